"""Preference notes: what editors keep changing, proposed as rules before any retrain.

From pairs of (model's draft, approved text) this finds the changes that recur across
drafts: a phrase swapped for another ("world-class" → "carefully made"), a phrase
deleted, a sentence added at the end (a fixed sign-off), at the start, or elsewhere.
Changes are found in the units edit cost counts in (``generation.editcost``: words for
space-separated scripts, one unit per CJK character), so English and Chinese edits are
mined alike. A change counts once per draft; ``propose_notes`` keeps those that at
least ``min_count`` drafts share.

An accepted note becomes style-rule lines (:func:`note_rules`): the prompt's "Always"
and "Never" lists carry them, and the checks flag a draft that breaks them
(``generation.checks``: quoted phrases of must-not rules; "End with", "Start with" and
"Include" must rules). :func:`note_conflict` refuses a note that asks for a banned term
or a phrase a must-not rule forbids. Pure Python: no Django, no torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from generation.checks import check_banned_terms, check_style_rules
from generation.editcost import edit_unit_spans

# Kinds of note.
REPLACE = "replace"  # write ``after`` instead of ``before``
DELETE = "delete"  # leave ``before`` out
ADD_END = "add_end"  # end with ``after`` (a sign-off)
ADD_START = "add_start"  # start with ``after``
ADD = "add"  # include ``after``
KINDS = (REPLACE, DELETE, ADD_END, ADD_START, ADD)

# Longest phrase a note may swap or delete, and longest added text, in edit units; a
# longer change is a rewrite, not a habit.
MAX_PHRASE_UNITS = 12
MAX_ADDED_UNITS = 40
# A note's texts are style-rule lines, so they are short and on one line.
NOTE_TEXT_MAX = 200


@dataclass(frozen=True)
class EditChange:
    """One change an editor made: ``before`` (draft) became ``after`` (final)."""

    kind: str
    before: str
    after: str


@dataclass(frozen=True)
class NoteProposal:
    """A change that ``count`` drafts share, with up to three of their ids (``drafts``)."""

    kind: str
    before: str
    after: str
    count: int
    drafts: tuple[object, ...] = ()

    @property
    def key(self) -> tuple[str, str, str]:
        return note_key(self.kind, self.before, self.after)


def one_line(text: str) -> str:
    """``text`` with every run of whitespace made one space (a rule is one line)."""
    return " ".join(text.split())


def note_key(kind: str, before: str, after: str) -> tuple[str, str, str]:
    """What makes two notes the same note: kind and texts, whitespace and case aside."""
    return kind, one_line(before).casefold(), one_line(after).casefold()


def _slice(text: str, spans: Sequence[tuple[str, int, int]], i: int, j: int) -> str:
    return one_line(text[spans[i][1]:spans[j - 1][2]]) if j > i else ""


def edit_changes(draft: str, final: str) -> list[EditChange]:
    """The changes from ``draft`` to ``final``, each a block of adjacent edits in
    edit-cost units (an empty list when the editor changed nothing)."""
    a, b = edit_unit_spans(draft), edit_unit_spans(final)
    blocks: list[list[int]] = []
    for op in Levenshtein.opcodes([u for u, _, _ in a], [u for u, _, _ in b]):
        if op.tag == "equal":
            continue
        if blocks and blocks[-1][1] == op.src_start and blocks[-1][3] == op.dest_start:
            blocks[-1][1], blocks[-1][3] = op.src_end, op.dest_end
        else:
            blocks.append([op.src_start, op.src_end, op.dest_start, op.dest_end])
    changes: list[EditChange] = []
    for i1, i2, j1, j2 in blocks:
        before, after = _slice(draft, a, i1, i2), _slice(final, b, j1, j2)
        if before and after:
            if i2 - i1 <= MAX_PHRASE_UNITS and j2 - j1 <= MAX_PHRASE_UNITS:
                changes.append(EditChange(REPLACE, before, after))
        elif before:
            if i2 - i1 <= MAX_PHRASE_UNITS:
                changes.append(EditChange(DELETE, before, ""))
        elif j2 - j1 <= MAX_ADDED_UNITS:
            if j2 == len(b):
                changes.append(EditChange(ADD_END, "", after))
            elif j1 == 0:
                changes.append(EditChange(ADD_START, "", after))
            elif j2 - j1 >= 2:  # one word slipped in mid-text is not a habit yet
                changes.append(EditChange(ADD, "", after))
    return changes


def propose_notes(
    edits: Iterable[tuple[object, str, str]], *, min_count: int = 2, limit: int = 50
) -> list[NoteProposal]:
    """Notes from edits, given as (draft id, model's text, approved text).

    A change counts once per draft; those made in at least ``min_count`` drafts are
    proposed, most frequent first (then by kind and text, so the order is stable). The
    texts shown are those of the first draft that made the change.
    """
    seen: dict[tuple[str, str, str], EditChange] = {}
    drafts: dict[tuple[str, str, str], list[object]] = {}
    for draft_id, draft, final in edits:
        for change in {note_key(c.kind, c.before, c.after): c
                       for c in edit_changes(draft, final)}.values():
            key = note_key(change.kind, change.before, change.after)
            seen.setdefault(key, change)
            drafts.setdefault(key, []).append(draft_id)
    proposals = [
        NoteProposal(seen[key].kind, seen[key].before, seen[key].after, len(ids),
                     tuple(ids[:3]))
        for key, ids in drafts.items() if len(ids) >= min_count
    ]
    proposals.sort(key=lambda p: (-p.count, KINDS.index(p.kind), p.before, p.after))
    return proposals[:limit]


def note_rules(kind: str, before: str, after: str) -> tuple[list[str], list[str]]:
    """The style-rule lines of a note, as (must, must not). Quoted with “ ” so the
    checks find the phrases (``generation.checks.must_not_phrases``, ``must_phrases``)."""
    before, after = one_line(before), one_line(after)
    if kind == REPLACE:
        return [f"Write “{after}” instead of “{before}”."], [f"“{before}”"]
    if kind == DELETE:
        return [], [f"“{before}”"]
    if kind == ADD_END:
        return [f"End with “{after}”"], []
    if kind == ADD_START:
        return [f"Start with “{after}”"], []
    if kind == ADD:
        return [f"Include “{after}”"], []
    raise ValueError(f"unknown note kind {kind!r}")


def note_problem(kind: str, before: str, after: str) -> dict[str, str]:
    """What is wrong with a note's texts as input, by field ("before", "after"); empty
    when nothing is."""
    problems: dict[str, str] = {}
    needs_before = kind in (REPLACE, DELETE)
    needs_after = kind in (REPLACE, ADD_END, ADD_START, ADD)
    for field, text, needed in (("before", before, needs_before), ("after", after, needs_after)):
        text = one_line(text)
        if needed and not text:
            problems[field] = "Write the phrase."
        elif len(text) > NOTE_TEXT_MAX:
            problems[field] = f"Keep it under {NOTE_TEXT_MAX} characters."
        elif any(q in text for q in "“”") or any(ord(c) < 32 for c in text):
            problems[field] = "Leave out curly quotes (“ ”) and control characters."
    if kind == REPLACE and not problems and one_line(before).casefold() == one_line(
            after).casefold():
        problems["after"] = "The new wording is the same as the old."
    return problems


def note_conflict(
    kind: str, before: str, after: str, *, banned_terms: Iterable[str],
    must_not: Iterable[str] = (),
) -> str:
    """Why the project cannot take this note ("" when it can): it asks for a banned term,
    or for a phrase one of the project's must-not rules forbids."""
    if kind not in (REPLACE, ADD_END, ADD_START, ADD):
        return ""
    wanted = one_line(after)
    banned = check_banned_terms(wanted, banned_terms)
    if banned:
        term = wanted[banned[0].span[0]:banned[0].span[1]] if banned[0].span else wanted
        return (f"This note asks for “{wanted}”, but “{term}” is one of the project's banned "
                "terms. Edit the note, or take the term off the banned list first.")
    forbidden = check_style_rules(wanted, must_not)
    if forbidden:
        return (f"This note asks for “{wanted}”, which the project's style rules forbid "
                f"({forbidden[0].message}). Edit the note or that rule first.")
    return ""
