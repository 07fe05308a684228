"""Project knowledge in generation/: passages, tokens, BM25 retrieval, its measured
recall, and the "Facts you may use" section of the prompt (trimmed to fit)."""

from __future__ import annotations

import pytest

from generation.knowledge import (
    Passage,
    fact_lines,
    rank,
    retrieve,
    split_passages,
    tokenize,
)
from generation.knowledge_eval import BRIEFS, main, recall_at, studio_ranker, whitespace_ranker
from generation.prompts import FewShotExample, build_prompt
from generation.prompts.builder import KNOWLEDGE_HEADING
from tests.generation.test_prompts import VOICE, brief_for


def test_it_splits_chinese_into_bigrams_and_english_into_words() -> None:
    assert tokenize("港湾冷萃咖啡") == ["港湾", "湾冷", "冷萃", "萃咖", "咖啡"]
    # Numbers stay whole; a plural and a possessive fold; function words go.
    assert tokenize("The Harbor's bags cost $11.50 (1,000 g)") == [
        "harbor", "bag", "cost", "11.50", "1000", "g"]
    # Full-width digits and letters are the same tokens as ASCII ones.
    assert tokenize("１２ ＣＵＰＳ") == ["12", "cup"]
    assert tokenize("售价68元") == ["售价", "68", "元"]


def test_it_packs_sentences_into_passages_without_splitting_on_spaces_in_chinese() -> None:
    english = "One. Two is here! Three?\n\nA new paragraph starts here."
    assert split_passages(english, max_chars=30) == [
        "One. Two is here! Three?", "A new paragraph starts here."]
    chinese = "第一句话。第二句话！第三句话？" * 3
    passages = split_passages(chinese, max_chars=16)
    assert "".join(passages) == chinese
    assert all(len(p) <= 16 for p in passages)
    # A sentence longer than a passage is cut, also where there are no spaces.
    assert all(len(p) <= 10 for p in split_passages("咖" * 35, max_chars=10))


def test_it_reads_a_fact_list_one_fact_a_line() -> None:
    assert fact_lines("- Cold brew: 12 cups a bottle\n\n2. 售价68元\n* Free delivery over $40\n") == [
        "Cold brew: 12 cups a bottle", "售价68元", "Free delivery over $40"]


def test_it_retrieves_the_matching_passage_and_nothing_unrelated() -> None:
    passages = [Passage(1, "Delivery takes two days in Europe."),
                Passage(2, "Our cold brew makes 12 cups per bottle."),
                Passage(3, "The café opens at 6:30.")]
    found = retrieve("Instagram ad for the cold brew bottle", passages, k=5, char_budget=1000)
    assert [p.key for p in found.passages] == [2]
    # A project with a single passage still matches (rank_bm25's own idf would be negative).
    assert [p.key for p in retrieve("cold brew", passages[1:2], k=5,
                                    char_budget=1000).passages] == [2]
    assert rank("nothing in common", passages) == []


def test_it_finds_chinese_knowledge_for_a_chinese_brief() -> None:
    passages = [Passage(1, "港湾冷萃咖啡液采用一升玻璃瓶装，一瓶可以冲调十二杯。"),
                Passage(2, "我们在云南普洱与当地咖啡农合作。"),
                Passage(3, "Cold brew makes 12 cups per bottle.")]
    found = retrieve("小红书广告：冷萃咖啡液一瓶能冲几杯", passages, k=1, char_budget=1000)
    assert [p.key for p in found.passages] == [1]


def test_it_keeps_to_the_character_budget_and_reports_what_it_left_out() -> None:
    long = Passage(1, "Cold brew " + "bottle " * 100)
    short = Passage(2, "Cold brew makes 12 cups.")
    found = retrieve("cold brew bottle", [long, short], k=5, char_budget=100)
    assert [p.key for p in found.passages] == [2]
    assert [p.key for p in found.left_out] == [1]
    assert sum(len(p.text) for p in found.passages) <= 100


def test_bm25_recall_on_the_fixed_evaluation() -> None:
    """The measured figures the README quotes: BM25 over words and CJK bigrams finds the
    passage each brief needs; splitting on spaces loses the Chinese briefs."""
    ours = recall_at(studio_ranker, [1, 3, 5])
    naive = recall_at(whitespace_ranker, [1, 3, 5])
    assert ours[1] >= 0.85 and ours[5] >= 0.9
    assert ours[5] > naive[5]
    chinese = [b for b in BRIEFS if not b.query.isascii()]
    assert recall_at(studio_ranker, [1], briefs=chinese)[1] == 1.0
    assert recall_at(whitespace_ranker, [1], briefs=chinese)[1] < 1.0


def test_the_evaluation_command_ends_with_one_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    main(["--k", "1", "5"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    report = json.loads(last)
    assert report["recall@5"] >= 0.9 and report["briefs"] == len(BRIEFS)


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_it_puts_the_passages_in_the_prompt_under_facts_you_may_use(tokenizer) -> None:  # type: ignore[no-untyped-def]
    facts = ["Cold brew makes 12 cups per bottle.", "售价68元。"]
    prompt = build_prompt(brief_for("article"), VOICE, tokenizer, context_window=2048,
                          max_new_tokens=64, knowledge=facts)
    assert prompt.knowledge_used == 2
    last_user = prompt.messages[-1]["content"]
    assert KNOWLEDGE_HEADING in last_user
    assert "- Cold brew makes 12 cups per bottle.\n- 售价68元。" in last_user
    assert "Facts you may use" not in prompt.messages[0]["content"]


def test_it_drops_examples_then_the_lowest_ranked_passages_then_trims_the_source(tokenizer) -> None:  # type: ignore[no-untyped-def]
    brief = brief_for("summary", source_text="The beans are roasted slowly. " * 2)
    facts = [f"Roast {i} comes in {i * 100} g tins." for i in range(40)]
    example = FewShotExample(brief_for("summary"), "A summary. " * 40)
    prompt = build_prompt(brief, VOICE, tokenizer, context_window=640, max_new_tokens=64,
                          examples=[example], knowledge=facts)
    assert prompt.token_count <= 640 - 64
    assert prompt.examples_used == 0
    assert 0 < prompt.knowledge_used < len(facts)
    # The best passages stay, in order; the source text is whole.
    assert facts[0] in prompt.text and facts[-1] not in prompt.text
    assert not prompt.source_trimmed and brief.source_text.strip() in prompt.text
