"""What an editor had to change: the edit distance between a draft and its final text.

The unit follows the script, so English and Chinese are measured alike: a run of
letters or digits in a space-separated script is one unit (a word), each Han, kana or
Hangul character is one unit (Chinese and Japanese have no spaces between words), and
each other visible mark (punctuation, emoji) is one unit. Whitespace is not a unit:
re-wrapping a paragraph costs nothing.

``edit_cost`` is the Levenshtein distance over those units divided by the longer text's
length in units: 0 when the editor approved the draft as written, 1 when nothing of it
survived (PRELUDE/CIPHER, Gao et al. 2024, measure a draft by the same word-level
distance).
"""

from __future__ import annotations

from dataclasses import dataclass

import regex
from rapidfuzz.distance import Levenshtein

# One unit each: a CJK character; a word (letters, digits, marks, inner ' ’ - joins); any
# other non-space character.
_UNIT = regex.compile(
    r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]"
    r"|[\p{L}\p{N}\p{M}]+(?:['’\-][\p{L}\p{N}\p{M}]+)*"
    r"|[^\s]",
    regex.VERSION1,
)


def edit_units(text: str) -> list[str]:
    """The units ``text`` is measured in: words, CJK characters, other marks."""
    return _UNIT.findall(text)


def edit_unit_spans(text: str) -> list[tuple[str, int, int]]:
    """The units of ``text`` with where each is: (unit, start, end) character offsets."""
    return [(m.group(), m.start(), m.end()) for m in _UNIT.finditer(text)]


@dataclass(frozen=True)
class EditCost:
    distance: int  # units inserted, deleted or substituted
    units: int  # the longer text's length in units
    cost: float  # distance / units, 0..1 (0 when both are empty)


def edit_cost(draft: str, final: str) -> EditCost:
    a, b = edit_units(draft), edit_units(final)
    distance = Levenshtein.distance(a, b)
    units = max(len(a), len(b))
    return EditCost(distance=distance, units=units, cost=distance / units if units else 0.0)
