"""Training data: examples, scrubbing, JSONL records, deterministic snapshots (no torch)."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generation.checks import (
    PERSONAL_CARD,
    PERSONAL_EMAIL,
    PERSONAL_ID,
    PERSONAL_PHONE,
    check_personal_data,
    find_personal_data,
    luhn_valid,
)
from generation.training import (
    InvalidExample,
    PreferenceExample,
    SFTExample,
    SnapshotIntegrityError,
    TrainConfig,
    build_snapshot,
    load_snapshot,
    scrub_personal_data,
)
from generation.training.data import prompt_key


def sft(i: int) -> SFTExample:
    return SFTExample(
        [
            {"role": "system", "content": "Brand voice: warm and plain."},
            {"role": "user", "content": f"Write ad copy number {i}."},
        ],
        f"Ad {i}: fresh coffee, warm welcome.",
    )


def pref(i: int) -> PreferenceExample:
    return PreferenceExample(
        [{"role": "user", "content": f"Summarise report {i}."}],
        f"Report {i}, in short.",
        f"report {i} lol",
    )


def test_it_imports_without_torch() -> None:
    # The web process imports the dataclasses; torch must not come with them.
    code = (
        "import sys, generation.training as t; t.build_snapshot; t.TrainConfig.for_dataset(10);"
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write to jane.doe+ads@example.co.uk today", "Write to [email] today"),
        ("Call +44 20 7946 0958 or (555) 123-4567.", "Call [phone] or [phone]."),
        ("Or 555.123.4567, or +15551234567, or 07700900123", "Or [phone], or [phone], or [phone]"),
        ("Card 4111 1111 1111 1111 ok", "Card [card] ok"),
        ("Card 4111-1111-1111-1111 and 5500005555555559", "Card [card] and [card]"),
        # Not personal data: dates, prices, years, big counts, ISBNs, versions, times.
        (
            "On 2024-01-15 we sold 1500000 cups at $1,299.99; ISBN 978-3-16-148410-0, v1.2.3 at 10:30",
            "On 2024-01-15 we sold 1500000 cups at $1,299.99; ISBN 978-3-16-148410-0, v1.2.3 at 10:30",
        ),
        # 16 digits failing the Luhn check are not a card.
        ("Order 4111 1111 1111 1112", "Order 4111 1111 1111 1112"),
        # Whole numbers, not their tails; non-ASCII addresses too.
        ("Ring +33 1 42 68 53 00 or +49 30 1234567", "Ring [phone] or [phone]"),
        ("Mail josé@correo.es", "Mail [email]"),
        ("2024-05-01 555 123 4567", "2024-05-01 [phone]"),
        # Years, year ranges, prices and percentages stay.
        ("In 1999-2004 and 2022 2023 2024", "In 1999-2004 and 2022 2023 2024"),
        ("12 500 000 € and 45 000 000 %", "12 500 000 € and 45 000 000 %"),
        # Chinese contact details, with the same detector as the draft flags.
        ("请致电13800138000或（010）12345678，身份证11010519491231002X。",
         "请致电[phone]或[phone]，身份证[id]。"),
        ("卡号6222021234567890128，邮箱jane@example.com谢谢", "卡号[card]，邮箱[email]谢谢"),
        ("客服１３８００１３８０００，2024年5月1日", "客服[phone]，2024年5月1日"),
    ],
)
def test_it_scrubs_personal_data(text: str, expected: str) -> None:
    assert scrub_personal_data(text) == expected


# --- Scrubbing removes exactly what the draft flags report -----------------------------

PLACEHOLDER = {PERSONAL_EMAIL: "[email]", PERSONAL_PHONE: "[phone]", PERSONAL_CARD: "[card]",
               PERSONAL_ID: "[id]"}

# Pieces that make the detectors' edge cases likely: digit runs and the characters
# that join, bound or fake them, real-looking personal data, dates and placeholders.
_PIECES = st.one_of(
    st.sampled_from([" ", "-", ".", "/", "(", ")", "+", "@", ",", ":", "%", "$", "€", "#",
                     "_", "\n", "\t", "\u00a0", "[", "]", "\x00", "é", "٣",
                     # Chinese text, full-width forms and invisible characters
                     "电话", "，", "。", "（", "）", "＋", "－", "１", "８", "\u200b", "x", "X"]),
    st.text(alphabet="0123456789", min_size=1, max_size=6),
    st.text(alphabet="abexyz", min_size=1, max_size=4),
    st.sampled_from(["4111 1111 1111 1111", "4111111111111111", "+44 20 7946 0958",
                     "(555) 123-4567", "jane@example.com", ".co.uk", "2024-05-01",
                     "12/05/2024", "1999", "07700900123", "[phone]", "[email]", "[card]",
                     "13800138000", "138 0013 8000", "+86", "(010)", "0755-", "11010519491231002X",
                     "110105", "19491231", "6222021234567890128", "[id]"]),
)
ANY_TEXT = st.one_of(st.lists(_PIECES, max_size=40).map("".join), st.text(max_size=80))
PROPERTY = settings(max_examples=600, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _flags_replaced(text: str) -> str:
    parts, last = [], 0
    for flag in check_personal_data(text):
        assert flag.span is not None
        parts += [text[last:flag.span[0]], PLACEHOLDER[flag.code]]
        last = flag.span[1]
    return "".join(parts) + text[last:]


@PROPERTY
@given(ANY_TEXT)
def test_it_leaves_nothing_to_find_after_scrubbing(text: str) -> None:
    scrubbed = scrub_personal_data(text)
    assert find_personal_data(scrubbed) == []
    assert scrub_personal_data(scrubbed) == scrubbed


@PROPERTY
@given(ANY_TEXT)
def test_it_scrubs_exactly_the_flagged_spans(text: str) -> None:
    # Each flagged span is replaced by its placeholder, and nothing else is touched.
    assert scrub_personal_data(text) == _flags_replaced(text)
    spans = find_personal_data(text)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False))


def _card(rng: random.Random) -> str:
    body = "4" + "".join(rng.choice("0123456789") for _ in range(14))
    number = next(body + d for d in "0123456789" if luhn_valid(body + d))
    return " ".join(number[i:i + 4] for i in range(0, 16, 4)) if rng.random() < 0.5 else number


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _personal_item(rng: random.Random) -> tuple[str, str]:
    d = lambda n: _digits(rng, n)  # noqa: E731
    return rng.choice([
        (PERSONAL_EMAIL, f"{rng.choice(['jane', 'j.doe', 'sales+ads'])}{d(2)}@"
                         f"{rng.choice(['example.com', 'shop.co.uk', 'café.fr'])}"),
        (PERSONAL_PHONE, f"({d(3)}) {d(3)}-{d(4)}"),
        (PERSONAL_PHONE, f"+44 20 {d(4)} {d(4)}"),
        (PERSONAL_PHONE, f"{d(3)}.{d(3)}.{d(4)}"),
        (PERSONAL_PHONE, f"07{d(9)}"),
        (PERSONAL_CARD, _card(rng)),
    ])


def test_it_scrubs_personal_data_wherever_it_sits_in_prose() -> None:
    # Each item sits between words, with dates, prices and years around it. (A number
    # written right after a phone number with only a space between reads as more of it.)
    rng = random.Random(1234)
    words = ["Call", "or", "write", "to", "on", "for", "in", "card", "today.", "\n"]
    numbers = ["2024-05-01", "12/05/2024", "$1,299.99", "1999-2004", "12.5%", "2024"]
    for _ in range(500):
        text, items = [], []
        for _ in range(rng.randint(1, 4)):
            text += [rng.choice(words), rng.choice(numbers), rng.choice(words)]
            code, value = _personal_item(rng)
            text.append(value)
            items.append((code, value))
        text += [rng.choice(words), rng.choice(numbers)]
        joined = " ".join(text)
        found = [(f.code, joined[f.span[0]:f.span[1]]) for f in check_personal_data(joined)]
        assert found == items, joined
        scrubbed = scrub_personal_data(joined)
        assert not any(value in scrubbed for _, value in items), scrubbed
        assert all(number in scrubbed for number in numbers if number in joined), scrubbed


def test_it_rejects_malformed_examples() -> None:
    with pytest.raises(InvalidExample, match="last prompt message"):
        SFTExample([{"role": "assistant", "content": "hi"}], "x")
    with pytest.raises(InvalidExample, match="empty"):
        SFTExample([{"role": "user", "content": "hi"}], "   ")
    with pytest.raises(InvalidExample, match="role"):
        SFTExample([{"role": "tool", "content": "hi"}], "x")
    with pytest.raises(InvalidExample, match="identical"):
        PreferenceExample([{"role": "user", "content": "hi"}], "same", "same")


def test_it_keys_prompts_the_way_examples_store_them() -> None:
    user = {"role": "user", "content": "Write a tagline."}
    assert prompt_key([user]) == prompt_key([{**user, "name": "ignored"}])
    assert prompt_key(SFTExample([user], "Fresh.").messages) == prompt_key([user])
    assert prompt_key([user]) != prompt_key([{"role": "system", "content": "Be brief."}, user])
    with pytest.raises(InvalidExample):
        prompt_key([{"role": "assistant", "content": "Hi"}])


def test_it_writes_the_records_trl_reads() -> None:
    record = sft(1).to_record()
    assert record == {
        "prompt": [
            {"role": "system", "content": "Brand voice: warm and plain."},
            {"role": "user", "content": "Write ad copy number 1."},
        ],
        "completion": [{"role": "assistant", "content": "Ad 1: fresh coffee, warm welcome."}],
    }
    assert sft(1).to_messages_record()["messages"][-1] == {
        "role": "assistant",
        "content": "Ad 1: fresh coffee, warm welcome.",
    }
    assert SFTExample.from_record(sft(1).to_messages_record()) == sft(1)
    dpo = pref(2).to_record()
    assert set(dpo) == {"prompt", "chosen", "rejected"}
    assert dpo["chosen"] == [{"role": "assistant", "content": "Report 2, in short."}]
    assert dpo["rejected"] == [{"role": "assistant", "content": "report 2 lol"}]


def test_it_hashes_and_splits_the_same_whatever_the_order() -> None:
    examples = [sft(i) for i in range(40)]
    prefs = [pref(i) for i in range(10)]
    a = build_snapshot(examples, prefs, eval_fraction=0.2, seed=7)
    shuffled = examples[:] + [examples[3]]  # a duplicate changes nothing
    random.Random(1).shuffle(shuffled)
    b = build_snapshot(shuffled, list(reversed(prefs)), eval_fraction=0.2, seed=7)
    assert a.content_hash == b.content_hash
    assert a.sft_eval == b.sft_eval and a.sft_train == b.sft_train
    assert a.counts == b.counts
    assert a.counts["sft_train"] + a.counts["sft_eval"] == 40
    assert 1 <= a.counts["sft_eval"] < 20
    # Another seed gives another split (and so another hash).
    assert build_snapshot(examples, prefs, eval_fraction=0.2, seed=8).content_hash != a.content_hash


def test_it_keeps_each_example_on_its_side_as_data_grows() -> None:
    small = build_snapshot([sft(i) for i in range(30)], eval_fraction=0.25)
    large = build_snapshot([sft(i) for i in range(60)], eval_fraction=0.25)
    assert set(small.sft_eval) <= set(large.sft_eval)
    assert set(small.sft_train) <= set(large.sft_train)


def test_it_always_leaves_something_to_evaluate_on() -> None:
    tiny = build_snapshot([sft(1), sft(2)], eval_fraction=0.01)
    assert tiny.counts["sft_eval"] == 1 and tiny.counts["sft_train"] == 1


def test_it_writes_and_reloads_a_snapshot(tmp_path) -> None:
    snap = build_snapshot(
        [sft(i) for i in range(12)], [pref(i) for i in range(4)], eval_fraction=0.25
    )
    folder = snap.write(tmp_path / "snap")
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json",
        "preference_eval.jsonl",
        "preference_train.jsonl",
        "sft_eval.jsonl",
        "sft_train.jsonl",
    ]
    assert not [p for p in tmp_path.iterdir() if p.name != "snap"]  # no temp folder left
    first = json.loads((folder / "sft_train.jsonl").read_text().splitlines()[0])
    assert set(first) == {"prompt", "completion"}
    again = load_snapshot(folder)
    assert again == snap
    # Writing the same snapshot again is a no-op; a different one is refused.
    assert snap.write(folder) == folder
    with pytest.raises(SnapshotIntegrityError):
        build_snapshot([sft(i) for i in range(13)]).write(folder)


def test_it_detects_an_edited_snapshot(tmp_path) -> None:
    folder = build_snapshot([sft(i) for i in range(12)]).write(tmp_path / "snap")
    path = folder / "sft_train.jsonl"
    path.write_text(path.read_text().replace("warm welcome", "cold welcome"))
    with pytest.raises(SnapshotIntegrityError, match="does not match"):
        load_snapshot(folder)


def test_it_picks_defaults_from_the_dataset_size() -> None:
    small, large = TrainConfig.for_dataset(20), TrainConfig.for_dataset(200_000)
    assert small.epochs > large.epochs and small.lora_rank < large.lora_rank
    assert large.max_steps > 0 and large.eval_steps == large.save_steps
    assert TrainConfig.from_dict(small.to_dict()) == small
    assert (
        TrainConfig.for_dataset(200, epochs=1.0).eval_steps
        < TrainConfig.for_dataset(200).eval_steps
    )
    with pytest.raises(ValueError, match="Unknown"):
        TrainConfig.from_dict({"epochz": 1})


# --- Plain turns of prompts rendered before drafts kept their messages ---------------

RENDERED = ("<|im_start|>system\nBe warm.<|im_end|>\n<|im_start|>user\nWrite a tagline."
            "<|im_end|>\n<|im_start|>assistant\nOld one.<|im_end|>\n<|im_start|>user\n"
            "Another, 简短。<|im_end|>\n<|im_start|>assistant\n")


def test_plain_turns_undo_a_chatml_rendered_prompt():
    from generation.training import plain_turns

    assert plain_turns([{"role": "user", "content": RENDERED}]) == [
        {"role": "system", "content": "Be warm."},
        {"role": "user", "content": "Write a tagline."},
        {"role": "assistant", "content": "Old one."},
        {"role": "user", "content": "Another, 简短。"},
    ]
    # Without the generation prompt (as the studio's older drafts stored it) too.
    assert plain_turns([{"role": "user", "content": "<|im_start|>user\nHi<|im_end|>"}]) == [
        {"role": "user", "content": "Hi"}]


@pytest.mark.parametrize("messages", [
    [{"role": "user", "content": "Write about <|im_start|> tokens"}],  # not rendered
    [{"role": "user", "content": "<|im_start|>user\nHi<|im_end|> trailing text"}],
    [{"role": "user", "content": "<|im_start|>system\nOnly a system turn<|im_end|>\n"}],
    [{"role": "system", "content": "S"}, {"role": "user", "content": RENDERED}],  # plain already
])
def test_plain_turns_leave_anything_else_alone(messages):
    from generation.training import plain_turns

    assert plain_turns(messages) == messages
