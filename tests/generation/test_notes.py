"""Preference notes mined from editors' changes (English and Chinese), their rules,
their checks and their conflicts with banned terms."""

from __future__ import annotations

from generation.checks import STYLE_RULE, check_draft, must_phrase
from generation.notes import (
    ADD,
    ADD_END,
    ADD_START,
    DELETE,
    REPLACE,
    edit_changes,
    note_conflict,
    note_problem,
    note_rules,
    propose_notes,
)

SIGN_OFF = "Cheers, the Roasters"


def test_it_finds_swaps_deletions_and_additions():
    changes = edit_changes("Our world-class beans, truly roasted daily.",
                           "Our carefully made beans, roasted daily. " + SIGN_OFF)
    assert [(c.kind, c.before, c.after) for c in changes] == [
        (REPLACE, "world-class", "carefully made"), (DELETE, "truly", ""),
        (ADD_END, "", SIGN_OFF)]
    [swap] = edit_changes("Our world-class beans.", "Our carefully made beans.")
    assert (swap.kind, swap.before, swap.after) == (REPLACE, "world-class", "carefully made")
    [drop] = edit_changes("It is truly roasted daily.", "It is roasted daily.")
    assert (drop.kind, drop.before) == (DELETE, "truly")
    [end] = edit_changes("Fresh beans.", "Fresh beans.\n\nCheers,\nthe Roasters")
    assert (end.kind, end.after) == (ADD_END, SIGN_OFF)
    [start] = edit_changes("Fresh beans.", "Hello friends! Fresh beans.")
    assert (start.kind, start.after) == (ADD_START, "Hello friends!")
    [middle] = edit_changes("Fresh beans. Order now.", "Fresh beans. Roasted this morning. Order now.")
    assert (middle.kind, middle.after) == (ADD, "Roasted this morning.")
    assert edit_changes("Same text.", "Same  text.") == []


def test_it_mines_chinese_by_character():
    [swap] = edit_changes("这款咖啡非常好喝。", "这款咖啡很好喝。")
    assert (swap.kind, swap.before, swap.after) == (REPLACE, "非常", "很")


def test_it_proposes_changes_that_recur_across_drafts_once_per_draft():
    edits = [
        (1, "A world-class roast. A world-class cup.", "A careful roast. A careful cup. " + SIGN_OFF),
        (2, "Our world-class espresso.", "Our careful espresso. " + SIGN_OFF),
        (3, "这杯茶非常好。", "这杯茶很好。"),
        (4, "这款咖啡非常好喝。", "这款咖啡很好喝。"),
        (5, "A one-off change.", "A single change."),
    ]
    notes = propose_notes(edits)
    assert [(n.kind, n.before, n.after, n.count) for n in notes] == [
        (REPLACE, "world-class", "careful", 2),
        (REPLACE, "非常", "很", 2),
        (ADD_END, "", SIGN_OFF, 2),
    ]
    assert notes[0].drafts == (1, 2)
    assert propose_notes(edits, min_count=3) == []


def test_an_accepted_note_reaches_the_checks_through_its_rules():
    must, must_not = note_rules(REPLACE, "world-class", "careful")
    flags = check_draft("A world-class roast.", must=must, must_not=must_not)
    assert [f.code for f in flags] == [STYLE_RULE]
    assert flags[0].span == (2, 13)
    assert check_draft("A careful roast.", must=must, must_not=must_not) == []

    must, must_not = note_rules(ADD_END, "", SIGN_OFF)
    assert must_phrase(must[0]) == ("end", SIGN_OFF)
    assert [f.message for f in check_draft("A careful roast.", must=must)] == [
        f"misses style rule 'End with “{SIGN_OFF}”'"]
    assert check_draft("A careful roast.\nCheers,  the roasters.", must=must) == []

    # Chinese phrases are found inside a sentence (no spaces, no word boundaries).
    _, must_not = note_rules(DELETE, "非常", "")
    assert [f.span for f in check_draft("这杯茶非常好。", must_not=must_not)] == [(3, 5)]


def test_a_note_asking_for_a_banned_term_is_refused_with_the_reason():
    message = note_conflict(REPLACE, "good value", "cheap", banned_terms=["cheap", "guaranteed"])
    assert "“cheap” is one of the project's banned terms" in message
    assert note_conflict(ADD_END, "", "便宜又好", banned_terms=["便宜"]) != ""
    # Asking to drop a banned term, or a swap away from it, is fine.
    assert note_conflict(DELETE, "cheap", "", banned_terms=["cheap"]) == ""
    assert note_conflict(REPLACE, "cheap", "good value", banned_terms=["cheap"]) == ""
    # A phrase another rule forbids is refused too.
    assert "style rules forbid" in note_conflict(
        REPLACE, "fine", "world-class", banned_terms=[], must_not=["“world-class”"])


def test_bad_note_text_gets_a_message_per_field():
    assert note_problem(REPLACE, "", "x") == {"before": "Write the phrase."}
    assert "after" in note_problem(ADD_END, "", "x" * 201)
    assert "after" in note_problem(REPLACE, "Same", "same")
    assert "before" in note_problem(DELETE, "a “quoted” one", "")
    assert note_problem(DELETE, "truly", "") == {}
