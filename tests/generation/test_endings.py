"""Clean endings: drafts end at a sentence boundary, in English and Chinese; a draft cut
by its token cap is trimmed to its last complete sentence and flagged "shortened"."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generation.checks import SHORTENED, TRUNCATED
from generation.endings import ends_sentence, trim_to_sentence
from generation.engine import Engine, GenerationRequest
from generation.prompts import BriefInput, target_tokens_for


@pytest.mark.parametrize("text", [
    "Fresh beans, roasted weekly.", "Order today!", "Ready? Go…",
    "“Try it,” she said. “You’ll see.”", "Only $5.", "新鲜烘焙，每周送达。", "真的吗？",
    "“好喝！”",
])
def test_these_end_a_sentence(text: str) -> None:
    assert ends_sentence(text) and trim_to_sentence(text) == (text, False)


@pytest.mark.parametrize(("text", "trimmed"), [
    ("Fresh beans, roasted weekly. Order by Friday and get", "Fresh beans, roasted weekly."),
    ("It costs 3.5 euros. Each bag holds 3.5", "It costs 3.5 euros."),
    ("See e.g. our blend. It is the", "See e.g. our blend."),
    ("Why wait? Order", "Why wait?"),
    ("1. Sourcing\n2. Roasting\n3. Deliv", "1. Sourcing\n2. Roasting"),
    ("新鲜烘焙的咖啡豆。每周送达，订", "新鲜烘焙的咖啡豆。"),
    ("好喝吗？当然好喝！再来一", "好喝吗？当然好喝！"),
])
def test_a_cut_text_is_trimmed_to_its_last_complete_sentence(text: str, trimmed: str) -> None:
    assert not ends_sentence(text)
    assert trim_to_sentence(text) == (trimmed, True)


def test_a_decimal_point_or_an_initial_is_not_a_sentence_end() -> None:
    assert not ends_sentence("It costs 3.5") and not ends_sentence("See e.g")
    assert trim_to_sentence("One long sentence without an end") == (
        "One long sentence without an end", False)


@given(st.text(alphabet=st.sampled_from(list("ab .!?\n3") + list("咖啡。！")), max_size=60))
def test_trimming_keeps_a_prefix_that_ends_cleanly(text: str) -> None:
    out, cut = trim_to_sentence(text)
    assert text.startswith(out)
    if cut:
        assert len(out) < len(text.rstrip())
        assert ends_sentence(out) or text[len(out):].lstrip(" ").startswith("\n")
    else:
        assert out == text.rstrip()


@pytest.fixture(scope="module")
def engine(tiny_model_dir, tmp_path_factory):
    return Engine.load(str(tiny_model_dir), tmp_path_factory.mktemp("cache"))


def test_no_draft_is_left_cut_when_the_budget_comes_from_the_brief(engine) -> None:
    requests = [GenerationRequest(BriefInput("article", "Coffee", target_words=words),
                                  variants=4, seed=seed)
                for seed in range(3) for words in (20, 40)]
    drafts = [(r, d) for r, result in zip(requests, engine.generate(requests), strict=True)
              for d in result.drafts]
    shortened = [d for _, d in drafts if SHORTENED in {f.code for f in d.flags}]
    assert shortened, "the tiny model's random text should hit its cap mid-sentence"
    for request, draft in drafts:
        codes = {f.code for f in draft.flags}
        if draft.finish_reason == "eos":
            assert not codes & {SHORTENED, TRUNCATED}
        elif SHORTENED in codes:  # cut after its last complete sentence or line
            assert TRUNCATED not in codes and draft.text
        elif not ends_sentence(draft.text):  # no complete sentence at all: left whole,
            assert TRUNCATED in codes  # and said so
        assert draft.completion_tokens <= 2 * target_tokens_for(request.brief.target_words) + 16
