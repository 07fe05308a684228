"""The one normalisation and the units every check counts in, in English and Chinese."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generation.text import (
    count_units,
    normalise,
    script_profile,
    text_units,
    to_simplified,
    traditional_spans,
    word_equivalents,
)

PROPERTY = settings(max_examples=300, derandomize=True, database=None, deadline=None)

# Text a user or a model may write: Latin, Chinese (simplified and traditional),
# full-width forms, look-alikes, zero-width and bidi controls, emoji, RTL scripts,
# combining marks and lone surrogates.
MIXED = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("abcXYZ019 ,.!?'-\n")),
        st.sampled_from(list("这款产品是最便宜的选择咖啡豆們這選擇，。！？「」")),
        st.sampled_from(list("ｃｈｅａｐ１２３＠（）")),
        st.sampled_from(["е", "а", "Η", "ο", "\u200b", "\u200d", "\ufeff", "\u00ad", "\u202e",
                         "\ufe0f", "😀", "👍", "\U0001f3fd", "ש", "ع", "\u0301", "ß", "İ", "ﬁ", "\ud800"]),
    ),
    max_size=60,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chеap", "cheap"),  # Cyrillic е
        ("ｃｈｅａｐ", "cheap"),  # full-width
        ("che\u200bap", "cheap"),  # zero-width space
        ("CΗEAP", "cheap"),  # Greek capital eta
        ("ﬁne", "fine"),  # ligature
        ("這款產品", "这款产品"),  # traditional → simplified
        ("x\ud800y", "x\ufffdy"),  # a lone surrogate from JSON
        ("a\u202eb", "ab"),  # bidi override
    ],
)
def test_it_normalises_look_alikes_widths_invisibles_and_traditional_forms(
    text: str, expected: str
) -> None:
    assert normalise(text).text == expected


def test_it_maps_every_normalised_character_back_to_the_original() -> None:
    text = "Buy che\u200bap ｃｏｆｆｅｅ"
    norm = normalise(text)
    start = norm.text.index("cheap")
    assert norm.span(start, start + 5) == (4, 10)
    assert text[slice(*norm.span(start, start + 5))] == "che\u200bap"


@PROPERTY
@given(MIXED)
def test_normalising_is_idempotent_and_its_spans_stay_in_the_text(text: str) -> None:
    norm = normalise(text)
    assert normalise(norm.text).text == norm.text
    last = 0
    for i in range(len(norm.text)):
        start, end = norm.span(i, i + 1)
        assert 0 <= start < end <= len(text) and start >= last
        last = start


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("Fresh coffee, don't wait.", ["fresh", "coffee", "don't", "wait"]),
        ("这款产品", ["这", "款", "产", "品"]),
        ("我们的iPhone 15手机壳", ["我", "们", "的", "iphone", "15", "手", "机", "壳"]),
        ("😀 עברית", ["עברית"]),
    ],
)
def test_it_counts_words_for_latin_runs_and_characters_for_cjk(text: str,
                                                               units: list[str]) -> None:
    assert [u for u, _, _ in text_units(text)] == units
    assert count_units(text) == len(units)


@PROPERTY
@given(st.text(alphabet="这款产品是最便宜的选择咖啡豆", min_size=1, max_size=80),
       st.lists(st.sampled_from(["fresh", "coffee", "beans"]), max_size=10))
def test_a_chinese_text_is_as_long_as_its_characters_whatever_the_spaces(
    chinese: str, words: list[str]
) -> None:
    assert count_units(chinese) == len(chinese)
    assert count_units(" ".join(chinese)) == len(chinese)
    assert count_units(chinese + " " + " ".join(words)) == len(chinese) + len(words)
    assert word_equivalents(chinese) == pytest.approx(len(chinese) / 1.6)


@PROPERTY
@given(MIXED)
def test_units_point_at_their_text(text: str) -> None:
    for unit, start, end in text_units(text):
        assert unit in normalise(text[start:end]).text


def test_it_profiles_scripts() -> None:
    assert script_profile("我们的 iPhone 15 Pro 手机壳").latin_words == 2
    assert script_profile("我们的 iPhone 15 Pro 手机壳").han == 6
    profile = script_profile("Привет мир and hello")
    assert (profile.latin_words, profile.other_words) == (2, 2)


def test_it_finds_traditional_characters_with_their_simplified_form() -> None:
    text = "这款產品是最便宜的選擇"
    assert [(text[a:b], s) for a, b, s in traditional_spans(text)] == [("產", "产"),
                                                                       ("選擇", "选择")]
    assert traditional_spans("这款产品是最便宜的选择，著名的咖啡。") == []
    assert to_simplified("頭髮") == "头发"
