"""Quality checks run on every draft; each problem becomes a :class:`QualityFlag`.

Checks: banned terms, must-not style rules, personal data (emails, phone numbers,
Luhn-valid card numbers), near-copies of a reference corpus (word 8-gram shingles),
near-identical variants of one brief, and empty or cut-off output. Pure Python, no
torch, so the web process can re-run them on an edited text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Flag codes, stable strings the database and the UI can key on.
BANNED_TERM = "banned_term"
STYLE_RULE = "style_rule"
PERSONAL_EMAIL = "personal_data_email"
PERSONAL_PHONE = "personal_data_phone"
PERSONAL_CARD = "personal_data_card"
NEAR_COPY = "near_copy"
NEAR_IDENTICAL = "near_identical_variant"
EMPTY = "empty"
TRUNCATED = "truncated"


@dataclass(frozen=True)
class QualityFlag:
    """One problem found in a draft. ``span`` is (start, end) character offsets in the
    draft text when the problem has a place."""

    code: str
    message: str
    span: tuple[int, int] | None = None


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Digit runs of 13-19 digits, optionally grouped by spaces or dashes (card numbers).
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
# Phone numbers: optional +country, then 7-15 digits with common separators.
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d(?:[ .-]?\d){6,14}(?!\w)")
# Quoted phrases inside a must-not rule: Never say "world-class".
_QUOTED = re.compile(r"[\"“'‘]([^\"”'’]{2,60})[\"”'’]")
_WORD = re.compile(r"\w+(?:['’]\w+)*")
_SENTENCE_END = re.compile(r"[.!?…)\]\"'”’*]\s*$")


def luhn_valid(digits: str) -> bool:
    """True when a digit string passes the Luhn checksum used by card numbers."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    # Word boundaries only where the phrase starts/ends with a word character, so
    # "A+" or "e-mail" still match sensibly.
    start = r"\b" if phrase[:1].isalnum() else ""
    end = r"\b" if phrase[-1:].isalnum() else ""
    return re.compile(start + re.escape(phrase) + end, re.IGNORECASE)


def check_banned_terms(text: str, banned_terms: Iterable[str]) -> list[QualityFlag]:
    """One flag per occurrence of a banned term (case-insensitive, whole words)."""
    flags = []
    for term in banned_terms:
        term = term.strip()
        if not term:
            continue
        for match in _phrase_pattern(term).finditer(text):
            flags.append(QualityFlag(BANNED_TERM, f"banned term {term!r}",
                                     (match.start(), match.end())))
    return flags


def must_not_phrases(rule: str) -> list[str]:
    """Phrases a must-not rule forbids: its quoted phrases, or the whole rule when it is
    a short phrase (at most four words, e.g. "synergy"). Longer unquoted rules are
    guidance for the model only and cannot be checked literally."""
    quoted = [q.strip() for q in _QUOTED.findall(rule) if q.strip()]
    if quoted:
        return quoted
    bare = rule.strip().rstrip(".!")
    return [bare] if bare and len(bare.split()) <= 4 else []


def check_style_rules(text: str, must_not: Iterable[str]) -> list[QualityFlag]:
    """Flag each occurrence of a phrase forbidden by a must-not rule."""
    flags = []
    for rule in must_not:
        for phrase in must_not_phrases(rule):
            for match in _phrase_pattern(phrase).finditer(text):
                flags.append(QualityFlag(STYLE_RULE, f"breaks style rule {rule.strip()!r}",
                                         (match.start(), match.end())))
    return flags


def check_personal_data(text: str) -> list[QualityFlag]:
    """Flag email addresses, Luhn-valid card numbers and phone numbers."""
    flags = [QualityFlag(PERSONAL_EMAIL, "email address", (m.start(), m.end()))
             for m in _EMAIL.finditer(text)]
    taken: list[tuple[int, int]] = []
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            flags.append(QualityFlag(PERSONAL_CARD, "payment card number", (m.start(), m.end())))
            taken.append((m.start(), m.end()))
    for m in _PHONE.finditer(text):
        if any(s < m.end() and m.start() < e for s, e in taken):
            continue
        digits = re.sub(r"\D", "", m.group())
        # A bare 7-8 digit run without separators is more often a number than a phone.
        if len(digits) < 7 or (m.group().isdigit() and len(digits) < 9):
            continue
        flags.append(QualityFlag(PERSONAL_PHONE, "phone number", (m.start(), m.end())))
    return flags


def _words(text: str) -> list[tuple[str, int, int]]:
    return [(m.group().lower(), m.start(), m.end()) for m in _WORD.finditer(text)]


class ReferenceCorpus:
    """Texts a draft must not copy, indexed by word n-gram shingles.

    A draft span is a near-copy when at least ``min_words`` consecutive words of it
    (``n``-gram shingles in a row) appear in one reference text. Exact shingle hashing
    finds the offending span itself, which MinHash cannot.
    """

    def __init__(self, texts: Sequence[str], *, n: int = 8, min_words: int = 12) -> None:
        self.n = n
        self.min_words = max(min_words, n)
        self.texts = list(texts)
        self._index: dict[tuple[str, ...], set[int]] = {}
        for doc_id, text in enumerate(self.texts):
            words = [w for w, _, _ in _words(text)]
            for i in range(len(words) - n + 1):
                self._index.setdefault(tuple(words[i:i + n]), set()).add(doc_id)

    def check(self, text: str) -> list[QualityFlag]:
        """Flags for each maximal run of the draft found in one reference text."""
        words = _words(text)
        tokens = [w for w, _, _ in words]
        hits = [self._index.get(tuple(tokens[i:i + self.n]), set())
                for i in range(len(tokens) - self.n + 1)]
        flags = []
        i = 0
        while i < len(hits):
            if not hits[i]:
                i += 1
                continue
            docs = set(hits[i])
            j = i
            while j + 1 < len(hits) and docs & hits[j + 1]:
                docs &= hits[j + 1]
                j += 1
            run_words = j - i + self.n
            if run_words >= self.min_words:
                start, end = words[i][1], words[j + self.n - 1][2]
                flags.append(QualityFlag(
                    NEAR_COPY,
                    f"{run_words} words copied from reference text #{min(docs)}",
                    (start, end),
                ))
            i = j + 1
        return flags


def shingle_similarity(a: str, b: str, n: int = 3) -> float:
    """Jaccard similarity of word ``n``-gram sets (1.0 = same wording)."""
    wa, wb = [w for w, _, _ in _words(a)], [w for w, _, _ in _words(b)]
    if len(wa) < n or len(wb) < n:
        return 1.0 if wa == wb else 0.0
    sa = {tuple(wa[i:i + n]) for i in range(len(wa) - n + 1)}
    sb = {tuple(wb[i:i + n]) for i in range(len(wb) - n + 1)}
    return len(sa & sb) / len(sa | sb)


def near_identical_pairs(texts: Sequence[str], threshold: float = 0.8) -> list[tuple[int, int]]:
    """(earlier, later) index pairs of variants at least ``threshold`` similar."""
    return [(i, j) for j in range(len(texts)) for i in range(j)
            if shingle_similarity(texts[i], texts[j]) >= threshold]


def check_completion(text: str, finish_reason: str) -> list[QualityFlag]:
    """Flag an empty draft, or one that hit the token limit mid-sentence."""
    if not text.strip():
        return [QualityFlag(EMPTY, "the model produced no text")]
    if finish_reason == "length" and not _SENTENCE_END.search(text):
        tail = len(text.rstrip())
        return [QualityFlag(TRUNCATED, "cut off at the length limit mid-sentence",
                            (max(0, tail - 40), tail))]
    return []


def check_draft(
    text: str,
    *,
    finish_reason: str = "eos",
    banned_terms: Iterable[str] = (),
    must_not: Iterable[str] = (),
    corpus: ReferenceCorpus | Sequence[str] | None = None,
) -> list[QualityFlag]:
    """All single-draft checks (variant similarity is checked across drafts by the
    engine with :func:`near_identical_pairs`)."""
    flags = check_completion(text, finish_reason)
    flags += check_banned_terms(text, banned_terms)
    flags += check_style_rules(text, must_not)
    flags += check_personal_data(text)
    if corpus:
        index = corpus if isinstance(corpus, ReferenceCorpus) else ReferenceCorpus(corpus)
        flags += index.check(text)
    return flags
