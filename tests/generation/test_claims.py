"""Claim checks: what a draft states that the brief and the project's knowledge do not,
placeholders left to fill in, and claims the brand must never make; English and Chinese."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generation.checks import check_forbidden_claims
from generation.claims import (
    FORBIDDEN_CLAIM,
    PLACEHOLDER,
    UNSUPPORTED_CLAIM,
    check_claims,
    find_claims,
)

BRIEF = ["Night Owl cold brew concentrate", "12 cups per bottle, $24.99, ships in 2 days.",
         "The smoothest cold brew we have made. Model X200 grinder included."]
ZH_BRIEF = ["夜猫冷萃咖啡浓缩液", "每瓶可冲12杯，售价99元，3天送达。", "我们最顺滑的冷萃。"]


def flagged(text: str, sources=BRIEF, never=()) -> list[tuple[str, str]]:
    flags = [*check_claims(text, sources), *check_forbidden_claims(text, never)]
    return [(f.code, text[f.span[0]:f.span[1]]) for f in sorted(flags, key=lambda f: f.span)]


def test_what_the_brief_states_passes_in_any_spelling() -> None:
    assert flagged("12 cups in every bottle for only $24.99 — the smoothest brew, at your "
                   "door in 2 days, X200 grinder included.") == []
    assert flagged("Just ＄２４.９９ for 12 cups.") == []  # full-width forms
    assert flagged("每瓶12杯，只要99元，3天送达，最顺滑的冷萃。", ZH_BRIEF) == []


@pytest.mark.parametrize(("text", "claims"), [
    ("Buy $8.99 & get 5 FREE bottles!", [("price", "$8.99"), ("number", "5")]),
    ("Delivery in just 7 minutes.", [("duration", "7 minutes")]),
    ("Save 30% until March 3.", [("percent", "30%"), ("date", "March 3")]),
    ("The best coffee, #1 in Berlin.", [("superlative", "best"), ("superlative", "#1")]),
    ("Now with the V8 roaster.", [("product", "V8")]),
    ("限时8折，每瓶只要59元，最便宜的冷萃，1小时送达，12月24日截止。",
     [("number", "8"), ("price", "59元"), ("superlative", "最便宜"), ("duration", "1小时"),
      ("date", "12月24日")]),
])
def test_invented_facts_are_unsupported_claims_with_their_span(text, claims) -> None:
    found = [(c.kind, c.text) for c in find_claims(text)]
    assert found == claims
    sources = ZH_BRIEF if any("\u4e00" <= ch <= "\u9fff" for ch in text) else BRIEF
    assert flagged(text, sources) == [(UNSUPPORTED_CLAIM, t) for _, t in claims]


def test_list_numbers_and_spelled_structure_are_not_claims() -> None:
    assert find_claims("1. Sourcing\n2. Roasting\n3) Brewing") == []


@pytest.mark.parametrize("text", [
    "Order from [Your Company Name] today.", "Visit {website} now.", "Save XX% today.",
    "Only $XX.XX!", "Call <insert phone number>.", "Launch date: TBD.",
    "欢迎选购【此处填写品牌名称】咖啡。", "联系某某经理。",
])
def test_placeholders_are_flagged_and_not_counted_as_claims(text: str) -> None:
    codes = [code for code, _ in flagged(text)]
    assert codes == [PLACEHOLDER]


def test_claims_the_brand_must_never_make_are_flagged_wherever_they_appear() -> None:
    never = ["clinically proven", "治愈"]
    text = "Clinically  Proven to wake you up. 能治愈失眠。"
    assert [(c, t) for c, t in flagged(text, never=never) if c == FORBIDDEN_CLAIM] == [
        (FORBIDDEN_CLAIM, "Clinically  Proven"), (FORBIDDEN_CLAIM, "治愈")]


@given(st.text(alphabet=st.sampled_from(list("ab 12.$%[]{}X最便宜元天月日\n#")), max_size=60))
def test_any_text_gives_spans_inside_it(text: str) -> None:
    for flag in [*check_claims(text, BRIEF), *check_forbidden_claims(text, ["ab"])]:
        start, end = flag.span
        assert 0 <= start < end <= len(text)
