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

from generation.endings import ends_sentence

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
SHORTENED = "shortened"  # hit the length limit, cut after its last complete sentence


@dataclass(frozen=True)
class QualityFlag:
    """One problem found in a draft. ``span`` is (start, end) character offsets in the
    draft text when the problem has a place."""

    code: str
    message: str
    span: tuple[int, int] | None = None


# Quoted phrases inside a must-not rule: Never say "world-class".
_QUOTED = re.compile(r"[\"“'‘]([^\"”'’]{2,60})[\"”'’]")
_WORD = re.compile(r"\w+(?:['’]\w+)*")


def luhn_valid(digits: str) -> bool:
    """True when a digit string passes the Luhn checksum used by card numbers."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# --- Personal data ------------------------------------------------------------------
#
# One detector for the draft flags and for training-data scrubbing, so a number the
# editor was warned about is exactly the number scrubbing removes.

# Kinds of personal data, as PersonalDataSpan.kind.
EMAIL = "email"
PHONE = "phone"
CARD = "card"
_PERSONAL_FLAGS = {
    EMAIL: (PERSONAL_EMAIL, "email address"),
    PHONE: (PERSONAL_PHONE, "phone number"),
    CARD: (PERSONAL_CARD, "payment card number"),
}


@dataclass(frozen=True)
class PersonalDataSpan:
    """One piece of personal data in a text: ``kind`` is ``"email"``, ``"phone"`` or
    ``"card"``; ``text[start:end]`` is the piece itself."""

    kind: str
    start: int
    end: int


# Unicode-aware, so "josé@correo.es" is found whole. The lookbehind starts a match only
# at the start of a token, which also keeps the scan linear on long words.
_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])"
)
# Digits joined by single spaces or dashes: the runs a card number can hide in.
_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d)*")
_DIGIT_GROUP = re.compile(r"\d+")
_DECIMAL_POINT_BEFORE = re.compile(r"\d[.,]")
_DECIMAL_POINT_AFTER = re.compile(r"[.,]\d")
# Horizontal separators only: a phone number never runs across a line break.
_SEP = r"[ \t\u00a0\u2009\u202f.-]"
# ISO and day/month dates (2024-05-01, 12/05/2024, 12.05.2024) are not phone numbers.
_DATE = r"(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})(?!\d)"
_PHONE = re.compile(
    # Not inside a word or a longer number (a price, a decimal, a version, a reference).
    r"(?<![\w+$€£¥#])(?<!\d[.,:/-])(?<![$€£¥]\s)"
    rf"(?!{_DATE})"
    # Atomic: a number that fails the checks after it is not retried a group shorter.
    r"(?>"
    # +44 20 7946 0958, +1 (555) 123-4567, +33 1 42 68 53 00
    rf"\+\d{{1,3}}(?:{_SEP}?\(\d{{1,4}}\))?(?:{_SEP}\d{{1,12}}){{1,6}}"
    # (555) 123-4567, 555.123.4567, 020 7946 0958, +49 30 1234567 without the +
    rf"|(?:\(\d{{1,4}}\){_SEP}?)?\d{{2,5}}(?:{_SEP}\d{{2,8}}){{1,5}}"
    r"|\+\d{7,15}"
    # National numbers written without separators start with a trunk 0 (07700900123);
    # other bare digit runs are counts, order numbers or timestamps.
    r"|0\d{9,10}"
    r")"
    # Not followed by a decimal part, a percent or a currency.
    r"(?![\w-])(?![.,:]\d)(?!\s?[%$€£¥])"
)
_YEAR = re.compile(r"(?:19|20)\d\d")


def _email_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _EMAIL.finditer(text)]


def _card_spans(text: str) -> list[tuple[int, int]]:
    # Every stretch of whole digit groups in a run is a candidate, not just the first
    # regex match, so a Luhn-invalid prefix never hides the card after it; the longest
    # candidates win, so a card is never cut short by a chance-valid shorter one. A card
    # starts and ends at a space or at the run's edge, never next to a dash or inside a
    # decimal number.
    spans: list[tuple[int, int]] = []
    for run in _DIGIT_RUN.finditer(text):
        before = text[max(0, run.start() - 2):run.start()]
        after = text[run.end():run.end() + 2]
        at_start = not (before.endswith("-") or _DECIMAL_POINT_BEFORE.fullmatch(before))
        at_end = not (after.startswith("-") or _DECIMAL_POINT_AFTER.fullmatch(after))
        groups = [(m.start() + run.start(), m.end() + run.start())
                  for m in _DIGIT_GROUP.finditer(run.group())]
        texts = [text[s:e] for s, e in groups]
        candidates = []
        for i, (start, _) in enumerate(groups):
            if not (at_start if i == 0 else text[start - 1] == " "):
                continue
            # Luhn sums kept as the stretch grows, for either parity of its final
            # length (which digits get doubled depends on it): linear, not quadratic.
            count, sums = 0, [0, 0]
            for j in range(i, len(groups)):
                for char in texts[j]:
                    d = int(char)
                    doubled = d * 2 - 9 if d > 4 else d * 2
                    sums[count % 2] += doubled
                    sums[1 - count % 2] += d
                    count += 1
                if count > 19:
                    break
                ends_ok = at_end if j == len(groups) - 1 else text[groups[j][1]] == " "
                if ends_ok and count >= 13 and sums[count % 2] % 10 == 0:
                    candidates.append((-count, i, j))
        taken = [False] * len(groups)
        chosen = []
        for _, i, j in sorted(candidates):
            if not any(taken[i:j + 1]):
                taken[i:j + 1] = [True] * (j + 1 - i)
                chosen.append((groups[i][0], groups[j][1]))
        spans += sorted(chosen)
    return spans


def _phone_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _PHONE.finditer(text):
        groups = _DIGIT_GROUP.findall(m.group())
        digits = sum(len(g) for g in groups)
        if not 7 <= digits <= 15:
            continue
        # A run of years ("2019-2024", "2022 2023 2024") is not a phone number.
        if all(len(g) == 4 and _YEAR.fullmatch(g) for g in groups) and "+" not in m.group():
            continue
        spans.append(m.span())
    return spans


# What a found span is overwritten with while looking for more: like the placeholders
# scrubbing writes ("[email]"), it is no word, digit, separator or "@", so the rest of
# the text reads the same to the patterns as it will once scrubbed.
_MASK = "\x00"


def _masked(text: str, spans: Sequence[tuple[int, int]]) -> str:
    parts: list[str] = []
    last = 0
    for start, end in spans:
        parts += [text[last:start], _MASK * (end - start)]
        last = end
    return "".join(parts) + text[last:]


def find_personal_data(text: str) -> list[PersonalDataSpan]:
    """Email addresses, Luhn-valid card numbers and phone numbers in ``text``, in order.

    Spans never overlap: emails are found first, then cards, then phones, each in the
    text with what was already found masked out. The search repeats until nothing new
    turns up, so replacing every span with a placeholder (:func:`scrub_personal_data`
    in ``generation.training``) leaves a text in which this finds nothing.

    Not personal data: dates (2024-05-01, 12/05/2024, 12.05.2024), years and year
    ranges, prices and percentages, decimals, versions, ISBNs, bare digit runs such as
    counts or order numbers (unless written as a trunk-0 national number or with +),
    and digit runs failing the Luhn check where a card would be.
    """
    found: list[PersonalDataSpan] = []
    masked = text
    while True:
        new: list[PersonalDataSpan] = []
        for kind, finder in ((EMAIL, _email_spans), (CARD, _card_spans), (PHONE, _phone_spans)):
            spans = finder(masked)
            new += [PersonalDataSpan(kind, start, end) for start, end in spans]
            masked = _masked(masked, spans)
        if not new:
            return sorted(found, key=lambda span: span.start)
        found += new


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
    """Flag each email address, Luhn-valid card number and phone number that
    :func:`find_personal_data` finds (the same spans scrubbing replaces)."""
    return [QualityFlag(_PERSONAL_FLAGS[span.kind][0], _PERSONAL_FLAGS[span.kind][1],
                        (span.start, span.end))
            for span in find_personal_data(text)]


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
    if finish_reason == "length" and not ends_sentence(text):
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
