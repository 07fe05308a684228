from __future__ import annotations

import time

import pytest

from generation.checks import (
    BANNED_TERM,
    EMPTY,
    NEAR_COPY,
    PERSONAL_CARD,
    PERSONAL_EMAIL,
    PERSONAL_PHONE,
    STYLE_RULE,
    TRUNCATED,
    ReferenceCorpus,
    check_draft,
    check_personal_data,
    find_personal_data,
    luhn_valid,
    must_not_phrases,
    near_identical_pairs,
    shingle_similarity,
)


def codes(flags):
    return [f.code for f in flags]


def test_it_flags_each_banned_term_with_its_span():
    text = "Our Cheap coffee is guaranteed fresh; cheapest is not banned."
    flags = check_draft(text, banned_terms=("cheap", "guaranteed"))
    assert codes(flags) == [BANNED_TERM, BANNED_TERM]
    assert [text[s:e] for s, e in (f.span for f in flags)] == ["Cheap", "guaranteed"]


def test_it_flags_must_not_phrases():
    assert must_not_phrases('Never say "world-class" or \'synergy\'') == ["world-class", "synergy"]
    assert must_not_phrases("Use jargon.") == ["Use jargon"]
    assert must_not_phrases("Do not write long rambling sentences about the company history") == []
    text = "A world-class blend with real synergy."
    flags = check_draft(text, must_not=('Never say "world-class" or "synergy"',))
    assert codes(flags) == [STYLE_RULE, STYLE_RULE]
    assert text[flags[0].span[0]:flags[0].span[1]] == "world-class"


def test_it_flags_personal_data():
    text = ("Write to jane.doe@example.com or call +44 20 7946 0958. "
            "Card 4111 1111 1111 1111 works; 4111 1111 1111 1112 fails Luhn. Order 12345678.")
    flags = check_draft(text)
    found = {(f.code, text[f.span[0]:f.span[1]]) for f in flags}
    assert (PERSONAL_EMAIL, "jane.doe@example.com") in found
    assert (PERSONAL_PHONE, "+44 20 7946 0958") in found
    assert (PERSONAL_CARD, "4111 1111 1111 1111") in found
    assert not any(c == PERSONAL_CARD and "1112" in s for c, s in found)
    assert not any("12345678" in s for _, s in found)
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mail josé.núñez@correo.es today", [("email", "josé.núñez@correo.es")]),
        ("Ring +33 1 42 68 53 00", [("phone", "+33 1 42 68 53 00")]),
        ("Ring +49 30 1234567 or 020 79460958", [("phone", "+49 30 1234567"),
                                                  ("phone", "020 79460958")]),
        ("Call +1 (555) 123-4567 or 555.123.4567", [("phone", "+1 (555) 123-4567"),
                                                     ("phone", "555.123.4567")]),
        ("Dial 07700900123 or +15551234567", [("phone", "07700900123"),
                                               ("phone", "+15551234567")]),
        # A date in front of a phone number is neither part of it nor flagged.
        ("2024-05-01 555 123 4567", [("phone", "555 123 4567")]),
        # A Luhn-invalid prefix does not hide the card after it.
        ("Ref 555 123 4111 1111 1111 1111", [("card", "4111 1111 1111 1111")]),
        # Digits inside an email belong to the email only.
        ("5551234567@example.com", [("email", "5551234567@example.com")]),
        ("Card 4111-1111-1111-1111 or 5500005555555559", [("card", "4111-1111-1111-1111"),
                                                          ("card", "5500005555555559")]),
        # Not personal data.
        ("On 2024-05-01, 12/05/2024 and 12.05.2024", []),
        ("From 1999-2004, then 2022 2023 2024", []),
        ("Price $1,299.99 or €12.500.000 or 12 500 000 €; up 45 000 000 % or 12.5%", []),
        ("Order 12345678, 150000000 cups, timestamp 1715000000", []),
        ("ISBN 978-3-16-148410-0 or 0-306-40615-2, v1.2.3 at 10:30", []),
        ("Card 4111 1111 1111 1112 fails Luhn", []),
        ("Figures\n555\n123\n4567 on separate lines", []),
    ],
)
def test_it_finds_personal_data(text, expected):
    spans = find_personal_data(text)
    assert [(s.kind, text[s.start:s.end]) for s in spans] == expected
    assert [f.span for f in check_personal_data(text)] == [(s.start, s.end) for s in spans]


def test_it_flags_a_near_copy_of_the_corpus_with_the_span():
    source = ("Our beans are roasted slowly in small batches on the hill above the old "
              "harbour, then packed the same day so every cup tastes of the morning.")
    corpus = ReferenceCorpus(["Unrelated text about tea.", source])
    copied = ("Good news! " + source[:120] + " That is all.")
    flags = check_draft(copied, corpus=corpus)
    assert codes(flags) == [NEAR_COPY]
    start, end = flags[0].span
    assert copied[start:end] in source
    assert "reference text #1" in flags[0].message
    assert check_draft("Our beans are roasted slowly. Nothing else matches here.",
                       corpus=corpus) == []


def test_it_finds_near_identical_variants():
    a = "Fresh coffee for busy mornings, brewed in a minute and ready to go."
    b = "Fresh coffee for busy mornings, brewed in a minute and ready to go!"
    c = "A slow Sunday pour-over for people who love the ritual of brewing."
    assert shingle_similarity(a, b) == 1.0
    assert near_identical_pairs([a, c, b]) == [(0, 2)]


def test_it_flags_empty_and_cut_off_output():
    assert codes(check_draft("  \n", finish_reason="eos")) == [EMPTY]
    assert codes(check_draft("The end came when the", finish_reason="length")) == [TRUNCATED]
    assert check_draft("The end.", finish_reason="length") == []
    assert check_draft("Stopped early without punctuation", finish_reason="eos") == []


def test_it_scans_long_digit_runs_in_linear_time():
    # Draft and edit texts go up to 100,000 characters; no input may make the scan
    # quadratic (every start of a card number in one long run is tried).
    for text in ("0 " * 50_000, "4111 1111 1111 1111 " * 5_000, "1." * 50_000):
        started = time.perf_counter()
        find_personal_data(text)
        assert time.perf_counter() - started < 10
