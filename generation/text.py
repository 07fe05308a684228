"""Text as the checks see it: one Unicode normalisation, units, scripts, Chinese forms.

Everything here is plain Python (``opencc`` for traditional → simplified Chinese), no
torch, no Django.

* :func:`normalise` is the one normalisation every check matches on: lone surrogates
  become U+FFFD, traditional Chinese is folded to simplified (OpenCC ``t2s``), then per
  character cluster NFKC (full-width/half-width forms, ligatures, compatibility
  letters), default-ignorable characters removed (zero-width spaces and joiners, soft
  hyphens, bidi controls, variation selectors), Cyrillic and Greek look-alike letters
  folded to Latin, and case folded. It keeps, for every character it returns, where it
  came from, so a match in the normalised text points at the original characters.
* :func:`text_units` splits text into the units lengths and similarity are counted in:
  a word for each run of Latin (or other spaced-script) letters and digits, a character
  for each CJK character. Mixed text gets both; nothing is ever split on spaces alone.
* :func:`script_profile` counts Latin words, Chinese characters, kana and other words,
  for the wrong-language check; :func:`traditional_spans` finds traditional characters.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# CJK characters, each one unit: CJK radicals and Kangxi, 々〆〇 and Hangzhou numerals,
# kana, Bopomofo, the unified ideographs (with extension A, compatibility ideographs and
# the supplementary planes' extensions). As a regex character-class body.
HAN_CHARS = (
    "\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3038-\u303b\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\U00020000-\U0003134f"
)
KANA_CHARS = "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"
BOPOMOFO_CHARS = "\u3100-\u312f\u31a0-\u31bf"
CJK_CHARS = HAN_CHARS + KANA_CHARS + BOPOMOFO_CHARS
# A word character that is not CJK: what a word boundary is made of in mixed text (a
# Latin word right after a Chinese character still starts a word).
WORD_CHAR = rf"[^\W{CJK_CHARS}]"

# How many CJK characters make about one English word: Chinese averages 1.5 to 1.7
# characters per word. Length targets, near-copy run lengths and the wrong-language
# check weigh a CJK character as 1 / CJK_CHARS_PER_WORD of a word.
CJK_CHARS_PER_WORD = 1.6

_UNIT = re.compile(rf"[{CJK_CHARS}]|{WORD_CHAR}+(?:['’]{WORD_CHAR}+)*")
_CJK = re.compile(rf"[{CJK_CHARS}]")
_HAN = re.compile(rf"[{HAN_CHARS}]")
_KANA = re.compile(rf"[{KANA_CHARS}]")
_LETTERS = re.compile(rf"[^\W\d_{CJK_CHARS}]+")
_LATIN_WORD = re.compile(r"[a-z\u00df-\u024f\u1e00-\u1eff]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Runs whose normal form is themselves in lower case: ASCII (lowered) and the common
# CJK ideographs. Everything else goes through the per-cluster path.
_PLAIN_RUN = re.compile("[\x00-\x7f\u3400-\u4dbf\u4e00-\u9fff]+")

# Look-alike letters folded to the Latin letter they imitate ("chеap" with a Cyrillic е),
# before case folding so upper case look-alikes keep their shape (Greek Η is H, not η).
_LOOKALIKES = str.maketrans({
    # Cyrillic
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ԛ": "Q",
    "Ԝ": "W", "Ү": "Y", "Һ": "H", "Ӏ": "I",
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "ү": "y", "һ": "h", "ӏ": "l", "ё": "e",
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w",
    # Latin letters that pass for others
    "ı": "i", "ɑ": "a", "ɡ": "g", "ℓ": "l",
})
# Default-ignorable code points that Cf does not cover.
_IGNORABLE_EXTRA = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u3164\uffa0"
)


def _ignorable(char: str) -> bool:
    code = ord(char)
    return (unicodedata.category(char) == "Cf" or char in _IGNORABLE_EXTRA
            or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF)


def _attaches(char: str) -> bool:
    # Combining marks belong to the character before them; so do ignorable characters,
    # which vanish (a mark after a zero-width space still composes with its base).
    return unicodedata.category(char)[0] == "M" or _ignorable(char)


@lru_cache(maxsize=8192)
def _fold_cluster(cluster: str) -> str:
    text = unicodedata.normalize("NFKC", cluster)
    text = "".join(c for c in text if not _ignorable(c)).translate(_LOOKALIKES)
    return unicodedata.normalize("NFKC", text.casefold())


_T2S: Any = None


def to_simplified(text: str) -> str:
    """``text`` with traditional Chinese characters replaced by simplified ones (OpenCC
    ``t2s``, phrase-aware), character for character: the result has the same length, so
    offsets stay valid. Lone surrogates must already be gone."""
    global _T2S
    if not _HAN.search(text):
        return text
    if _T2S is None:
        import opencc

        _T2S = opencc.OpenCC("t2s")
    converted = str(_T2S.convert(text))
    if len(converted) == len(text):
        return converted
    # A phrase rule that changed the length (none in t2s today): convert per character.
    return "".join(c if not _HAN.match(c) else (str(_T2S.convert(c)) or c)[:1] for c in text)


def without_surrogates(text: str) -> str:
    """``text`` with every lone surrogate (``"\\ud800"`` from JSON) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


@dataclass(frozen=True)
class NormalisedText:
    """The normalised form of a text and, per character of it, the original span it
    came from (``None`` when the two are aligned one to one)."""

    text: str
    starts: array | None
    ends: array | None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of ``self.text[start:end]`` (``start < end``)."""
        if self.starts is None or self.ends is None:
            return start, end
        return self.starts[start], self.ends[end - 1]


def normalise(text: str) -> NormalisedText:
    """The one normalisation every check matches on (see the module docstring).

    Idempotent on its output's text: ``normalise(normalise(t).text).text ==
    normalise(t).text``.
    """
    if text.isascii():
        return NormalisedText(text.lower(), None, None)
    text = to_simplified(without_surrogates(text))
    parts: list[str] = []
    starts = array("q")
    ends = array("q")
    i, n = 0, len(text)
    while i < n:
        plain = _PLAIN_RUN.match(text, i)
        if plain is not None:
            end = plain.end()
            if end < n and _attaches(text[end]):
                end -= 1  # its last character takes the marks after it
            if end > i:
                parts.append(text[i:end].lower())
                starts.extend(range(i, end))
                ends.extend(range(i + 1, end + 1))
                i = end
                continue
        j = i + 1
        while j < n and _attaches(text[j]):
            j += 1
        folded = _fold_cluster(text[i:j])
        parts.append(folded)
        starts.extend([i] * len(folded))
        ends.extend([j] * len(folded))
        i = j
    return NormalisedText("".join(parts), starts, ends)


def text_units(text: str) -> list[tuple[str, int, int]]:
    """The units of ``text``, normalised, with their original spans: each CJK character
    is one unit, each run of other letters and digits (with inner apostrophes) one word.
    """
    norm = normalise(text)
    return [(m.group(), *norm.span(m.start(), m.end())) for m in _UNIT.finditer(norm.text)]


def unit_strings(text: str) -> list[str]:
    """The units of ``text`` as :func:`text_units` gives them, without their spans."""
    return _UNIT.findall(normalise(text).text)


def count_units(text: str) -> int:
    """How long ``text`` is in units (words, and characters for CJK)."""
    return len(unit_strings(text))


def unit_weight(unit: str) -> float:
    """A unit's weight in English-word equivalents (a CJK character is a fraction)."""
    return 1 / CJK_CHARS_PER_WORD if _CJK.fullmatch(unit) else 1.0


def word_equivalents(text: str) -> float:
    """The length of ``text`` in English-word equivalents: a word counts 1, a CJK
    character 1 / :data:`CJK_CHARS_PER_WORD`."""
    return sum(unit_weight(u) for u, _, _ in text_units(text))


@dataclass(frozen=True)
class ScriptProfile:
    """What a text is written in: Chinese (Han) characters, kana, words of Latin letters
    and words of other letters (Cyrillic, Greek, Arabic, Hebrew, Hangul…)."""

    han: int
    kana: int
    latin_words: int
    other_words: int

    def shares(self) -> dict[str, float]:
        """Each script's share of the text in word equivalents (empty when no letters)."""
        weights = {
            "han": self.han / CJK_CHARS_PER_WORD,
            "kana": self.kana / CJK_CHARS_PER_WORD,
            "latin": float(self.latin_words),
            "other": float(self.other_words),
        }
        total = sum(weights.values())
        return {k: v / total for k, v in weights.items()} if total else {}

    @property
    def word_equivalents(self) -> float:
        return (self.han + self.kana) / CJK_CHARS_PER_WORD + self.latin_words + self.other_words


def script_profile(text: str) -> ScriptProfile:
    """Count the scripts of ``text`` after :func:`normalise` (so full-width Latin is
    Latin, and a Latin word with a Cyrillic look-alike in it is a Latin word)."""
    norm = normalise(text).text
    han = len(_HAN.findall(norm))
    kana = len(_KANA.findall(norm))
    latin = other = 0
    for word in _LETTERS.findall(norm):
        if _LATIN_WORD.fullmatch(word):
            latin += 1
        else:
            other += 1
    return ScriptProfile(han, kana, latin, other)


def traditional_spans(text: str, *, gap: int = 3) -> list[tuple[int, int, str]]:
    """Stretches of ``text`` holding traditional Chinese characters, as (start, end,
    simplified form of the stretch); characters at most ``gap`` apart share a stretch."""
    clean = without_surrogates(text)
    simplified = to_simplified(clean)
    if simplified == clean:
        return []
    changed = [i for i, (a, b) in enumerate(zip(clean, simplified, strict=True)) if a != b]
    spans: list[tuple[int, int, str]] = []
    start = end = changed[0]
    for i in changed[1:]:
        if i - end > gap:
            spans.append((start, end + 1, simplified[start:end + 1]))
            start = i
        end = i
    spans.append((start, end + 1, simplified[start:end + 1]))
    return spans
