"""Quality checks run on every draft; each problem becomes a :class:`QualityFlag`.

Checks: banned terms, style rules (quoted phrases of must-not rules; must rules of
the form "End with “…”", "Start with “…”", "Include “…”"), personal data (emails, phone numbers,
Luhn-valid card numbers, Chinese resident ID numbers), near-copies of a reference corpus
(8-unit shingles), near-identical variants of one brief, empty or cut-off output, and
the draft's language (mostly another script than the project's; traditional characters
in a simplified-Chinese project). Pure Python, no torch, so the web process can re-run
them on an edited text.

English, Chinese and mixed text alike: every check works on the one normalisation of
:func:`generation.text.normalise` (NFKC, zero-width characters removed, look-alike
letters and traditional characters folded, case folded) and reports spans in the
original text. Lengths and shingles are in :func:`generation.text.text_units`: words
for Latin runs, characters for CJK; a CJK character weighs 1/1.6 of a word where
lengths are compared (near-copy runs, the four-word limit of a must-not phrase).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from generation.claims import FORBIDDEN_CLAIM as FORBIDDEN_CLAIM
from generation.claims import PLACEHOLDER as PLACEHOLDER
from generation.claims import UNSUPPORTED_CLAIM as UNSUPPORTED_CLAIM
from generation.claims import check_claims
from generation.endings import ends_sentence
from generation.languages import DEFAULT_LANGUAGE, get_language
from generation.text import (
    CJK_CHARS,
    WORD_CHAR,
    NormalisedText,
    normalise,
    script_profile,
    text_units,
    traditional_spans,
    unit_strings,
    unit_weight,
    word_equivalents,
)

# Flag codes, stable strings the database and the UI can key on.
BANNED_TERM = "banned_term"
STYLE_RULE = "style_rule"
PERSONAL_EMAIL = "personal_data_email"
PERSONAL_PHONE = "personal_data_phone"
PERSONAL_CARD = "personal_data_card"
PERSONAL_ID = "personal_data_id"
NEAR_COPY = "near_copy"
NEAR_IDENTICAL = "near_identical_variant"
EMPTY = "empty"
TRUNCATED = "truncated"
WRONG_LANGUAGE = "wrong_language"
TRADITIONAL_CHINESE = "traditional_chinese"
SHORTENED = "shortened"  # hit the length limit, cut after its last complete sentence


@dataclass(frozen=True)
class QualityFlag:
    """One problem found in a draft. ``span`` is (start, end) character offsets in the
    draft text when the problem has a place."""

    code: str
    message: str
    span: tuple[int, int] | None = None


# Quoted phrases inside a rule: Never say "world-class"; 不要说「世界一流」. Curly double
# quotes may hold apostrophes and single CJK characters (preference notes quote so).
_QUOTED = re.compile(r"“([^”\n]{1,200})”|[\"'‘「『]([^\"”'’」』\n]{2,60})[\"”'’」』]")
# Must rules the checks can verify: End with “…”, Start with “…”, Include “…”.
_MUST = re.compile(r"^\s*(end with|start with|begin with|include)\s*[:：]?\s*"
                   r"(?:“([^”\n]{1,200})”|\"([^\"\n]{1,200})\")\s*[.。]?\s*$", re.IGNORECASE)


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
ID_NUMBER = "id_number"
_PERSONAL_FLAGS = {
    EMAIL: (PERSONAL_EMAIL, "email address"),
    PHONE: (PERSONAL_PHONE, "phone number"),
    CARD: (PERSONAL_CARD, "payment card number"),
    ID_NUMBER: (PERSONAL_ID, "resident ID number"),
}


@dataclass(frozen=True)
class PersonalDataSpan:
    """One piece of personal data in a text: ``kind`` is ``"email"``, ``"phone"``,
    ``"card"`` or ``"id_number"``; ``text[start:end]`` is the piece itself."""

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
    # Mainland China mobile numbers: 13800138000, 138 0013 8000, +86 138-0013-8000,
    # 008613800138000. First, so a country prefix stays part of the number.
    rf"(?:(?:\+|00)86{_SEP}?)?1[3-9]\d(?:{_SEP}?\d{{4}}){{2}}"
    # Mainland landlines with the area code in brackets: (010)12345678, （0755）1234567.
    rf"|\(0\d{{2,3}}\){_SEP}?\d{{7,8}}"
    # +44 20 7946 0958, +1 (555) 123-4567, +33 1 42 68 53 00
    rf"|\+\d{{1,3}}(?:{_SEP}?\(\d{{1,4}}\))?(?:{_SEP}\d{{1,12}}){{1,6}}"
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
# Mainland resident ID numbers: 6-digit area, birth date, 3-digit sequence, check digit
# (0-9 or X), optionally grouped 6-8-4 by spaces.
_RESIDENT_ID = re.compile(
    r"(?<![\w+#-])(?<!\d[.,])"
    r"([1-9]\d{5}) ?((?:18|19|20)\d{6}) ?(\d{3}[\dx])"
    r"(?![\w-])(?![.,]\d)"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10x98765432"
# CJK characters are never part of an email, a number or a card: for those patterns
# they read like punctuation (and unlike a separator), so "电话13800138000" is a number
# after a word, not inside one.
_CJK_CHAR = re.compile(f"[{CJK_CHARS}]")
_FOLDED_PUNCTUATION = re.compile(r"[,.:;!?]")
_FULL_WIDTH_PUNCTUATION = frozenset("，．：；！？")


def resident_id_valid(number: str) -> bool:
    """True when an 18-character mainland resident ID number has a real birth date and
    its check character (ISO 7064 MOD 11-2) matches."""
    number = number.lower()
    if len(number) != 18 or not number[:17].isdecimal():
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17]


def _resident_id_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _RESIDENT_ID.finditer(text)
            if m.group(1).isascii() and resident_id_valid("".join(m.groups()))]


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
    """Email addresses, resident ID numbers, Luhn-valid card numbers and phone numbers
    in ``text``, in order.

    The search runs on :func:`generation.text.normalise` of the text (full-width digits
    and brackets, zero-width characters inside a number), and the spans are those of
    the original text. Phones include mainland China mobiles (1[3-9] and 9 digits, with
    or without +86) and landlines (010-12345678, (0755)1234567); ID numbers are 18
    characters with a valid birth date and check character (ISO 7064 MOD 11-2).

    Spans never overlap: emails are found first, then ID numbers, cards and phones,
    each in the text with what was already found masked out. The search repeats until
    nothing new turns up, so replacing every span with a placeholder
    (:func:`scrub_personal_data` in ``generation.training``) leaves a text in which this
    finds nothing.

    Not personal data: dates (2024-05-01, 12/05/2024, 12.05.2024), years and year
    ranges, prices and percentages, decimals, versions, ISBNs, bare digit runs such as
    counts or order numbers (unless written as a trunk-0 national number or with +),
    and digit runs failing the Luhn check where a card would be.
    """
    norm = normalise(text)
    found: list[PersonalDataSpan] = []
    masked = _CJK_CHAR.sub("\x01", norm.text)
    if norm.starts is not None:
        # Chinese full-width punctuation ends a number: "13800138000，2024年" is a phone
        # and a year, though NFKC makes "，" the comma of a decimal.
        chars = list(masked)
        for m in _FOLDED_PUNCTUATION.finditer(masked):
            start, end = norm.span(m.start(), m.end())
            if text[start:end] in _FULL_WIDTH_PUNCTUATION:
                chars[m.start()] = "\x01"
        masked = "".join(chars)
    while True:
        new: list[PersonalDataSpan] = []
        for kind, finder in ((EMAIL, _email_spans), (ID_NUMBER, _resident_id_spans),
                             (CARD, _card_spans), (PHONE, _phone_spans)):
            spans = finder(masked)
            new += [PersonalDataSpan(kind, start, end) for start, end in spans]
            masked = _masked(masked, spans)
        if not new:
            spans_in_text = [PersonalDataSpan(s.kind, *norm.span(s.start, s.end))
                             for s in found]
            return sorted(spans_in_text, key=lambda span: span.start)
        found += new


_WORD_CHAR = re.compile(WORD_CHAR)


@lru_cache(maxsize=2048)
def _phrase_pattern(phrase: str) -> re.Pattern[str] | None:
    """The pattern of a phrase in normalised text: whole words at a Latin (or other
    spaced-script) edge, no boundary at a CJK edge (Chinese has no spaces), any run of
    white space where the phrase has one. None for a phrase that normalises to nothing.
    """
    norm = " ".join(normalise(phrase).text.split())
    if not norm:
        return None
    # Boundaries only where the phrase starts/ends with a word character, so "A+" or
    # "e-mail" still match sensibly.
    start = rf"(?<!{WORD_CHAR})" if _WORD_CHAR.match(norm[0]) else ""
    end = rf"(?!{WORD_CHAR})" if _WORD_CHAR.match(norm[-1]) else ""
    return re.compile(start + re.escape(norm).replace(r"\ ", r"\s+") + end)


def _phrase_spans(norm_text: NormalisedText, phrase: str) -> list[tuple[int, int]]:
    pattern = _phrase_pattern(phrase)
    if pattern is None:
        return []
    return [norm_text.span(m.start(), m.end()) for m in pattern.finditer(norm_text.text)]


def check_forbidden_claims(text: str, never_claims: Iterable[str]) -> list[QualityFlag]:
    """One flag per occurrence of a claim the project must never make, matched like a
    banned term (normalised, whole words for Latin phrases, anywhere for Chinese)."""
    norm = normalise(text)
    return [QualityFlag(FORBIDDEN_CLAIM, f"a claim the brand must never make: {phrase!r}", span)
            for phrase in (p.strip() for p in never_claims) if phrase
            for span in _phrase_spans(norm, phrase)]


def check_banned_terms(text: str, banned_terms: Iterable[str]) -> list[QualityFlag]:
    """One flag per occurrence of a banned term: case-insensitive, after normalisation
    (so "chеap" with a Cyrillic е, "ｃｈｅａｐ" and "che\u200bap" are "cheap"), whole
    words for Latin terms, anywhere for Chinese ones (最便宜 in 这款产品是最便宜的选择)."""
    flags = []
    norm = normalise(text)
    for term in banned_terms:
        term = term.strip()
        if not term:
            continue
        for span in _phrase_spans(norm, term):
            flags.append(QualityFlag(BANNED_TERM, f"banned term {term!r}", span))
    return flags


def must_not_phrases(rule: str) -> list[str]:
    """Phrases a must-not rule forbids: its quoted phrases, or the whole rule when it is
    a short phrase (at most four words, e.g. "synergy"). Longer unquoted rules are
    guidance for the model only and cannot be checked literally."""
    quoted = [(a or b).strip() for a, b in _QUOTED.findall(rule) if (a or b).strip()]
    if quoted:
        return quoted
    bare = rule.strip().rstrip(".!。！")
    return [bare] if bare and word_equivalents(bare) <= 4 else []


def check_style_rules(text: str, must_not: Iterable[str]) -> list[QualityFlag]:
    """Flag each occurrence of a phrase forbidden by a must-not rule (matched like a
    banned term)."""
    flags = []
    norm = normalise(text)
    for rule in must_not:
        for phrase in must_not_phrases(rule):
            for span in _phrase_spans(norm, phrase):
                flags.append(QualityFlag(STYLE_RULE, f"breaks style rule {rule.strip()!r}",
                                         span))
    return flags


def must_phrase(rule: str) -> tuple[str, str] | None:
    """What a must rule the checks can verify asks for, as (where, phrase): where is
    "end", "start" or "anywhere" (rules "End with “…”", "Start with “…”", "Include “…”");
    None for every other rule (guidance for the model only)."""
    match = _MUST.match(rule)
    if not match:
        return None
    phrase = " ".join((match.group(2) or match.group(3) or "").split())
    if not phrase:
        return None
    verb = match.group(1).lower()
    where = "end" if verb == "end with" else "anywhere" if verb == "include" else "start"
    return where, phrase


def _trim(text: str) -> str:
    return text.strip().strip(".!。！").strip().casefold()


def check_must_rules(text: str, must: Iterable[str]) -> list[QualityFlag]:
    """Flag each verifiable must rule (:func:`must_phrase`) the text does not keep.
    Whitespace and case do not count, nor a final full stop."""
    flags = []
    flat = " ".join(text.split())
    for rule in must:
        wanted = must_phrase(rule)
        if wanted is None or not flat:
            continue
        where, phrase = wanted
        if where == "end":
            kept = _trim(flat).endswith(_trim(phrase))
        elif where == "start":
            kept = _trim(flat).startswith(_trim(phrase))
        else:
            kept = bool(_phrase_spans(normalise(flat), phrase))
        if not kept:
            flags.append(QualityFlag(STYLE_RULE, f"misses style rule {rule.strip()!r}"))
    return flags


def check_personal_data(text: str) -> list[QualityFlag]:
    """Flag each email address, resident ID, Luhn-valid card number and phone number
    that :func:`find_personal_data` finds (the same spans scrubbing replaces)."""
    return [QualityFlag(_PERSONAL_FLAGS[span.kind][0], _PERSONAL_FLAGS[span.kind][1],
                        (span.start, span.end))
            for span in find_personal_data(text)]


def _run_length(units: Sequence[str]) -> str:
    words = sum(1 for u in units if unit_weight(u) == 1.0)
    chars = len(units) - words
    parts = [f"{words} words"] * bool(words) + [f"{chars} characters"] * bool(chars)
    return " and ".join(parts)


class ReferenceCorpus:
    """Texts a draft must not copy, indexed by ``n``-unit shingles (words, and
    characters for CJK; see :func:`generation.text.text_units`).

    A draft span is a near-copy when a run of consecutive units of it (``n``-unit
    shingles in a row) appears in one reference text and weighs at least ``min_words``
    words, a CJK character counting 1/1.6 of a word: 12 English words, 20 Chinese
    characters, or a mix. Exact shingle hashing finds the offending span itself, which
    MinHash cannot.
    """

    def __init__(self, texts: Sequence[str], *, n: int = 8, min_words: int = 12) -> None:
        self.n = n
        self.min_words = min_words
        self.texts = list(texts)
        # Shingle hash -> the reference text it first came from, or the set of them.
        self._index: dict[int, int | set[int]] = {}
        for doc_id, text in enumerate(self.texts):
            units = unit_strings(text)
            for i in range(len(units) - n + 1):
                key = hash(tuple(units[i:i + n]))
                seen = self._index.get(key)
                if seen is None:
                    self._index[key] = doc_id
                elif isinstance(seen, set):
                    seen.add(doc_id)
                elif seen != doc_id:
                    self._index[key] = {seen, doc_id}

    def _docs(self, shingle: tuple[str, ...]) -> set[int]:
        seen = self._index.get(hash(shingle))
        if seen is None:
            return set()
        return set(seen) if isinstance(seen, set) else {seen}

    def check(self, text: str) -> list[QualityFlag]:
        """Flags for each maximal run of the draft found in one reference text."""
        units = text_units(text)
        tokens = [u for u, _, _ in units]
        hits = [self._docs(tuple(tokens[i:i + self.n]))
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
            run = tokens[i:j + self.n]
            if sum(unit_weight(u) for u in run) >= self.min_words:
                start, end = units[i][1], units[j + self.n - 1][2]
                flags.append(QualityFlag(
                    NEAR_COPY,
                    f"{_run_length(run)} copied from reference text #{min(docs)}",
                    (start, end),
                ))
            i = j + 1
        return flags


def shingle_similarity(a: str, b: str, n: int = 3) -> float:
    """Jaccard similarity of ``n``-unit shingle sets (1.0 = same wording); units are
    words, and characters for CJK, after normalisation."""
    wa, wb = unit_strings(a), unit_strings(b)
    if len(wa) < n or len(wb) < n:
        return 1.0 if wa == wb else 0.0
    sa = {tuple(wa[i:i + n]) for i in range(len(wa) - n + 1)}
    sb = {tuple(wb[i:i + n]) for i in range(len(wb) - n + 1)}
    return len(sa & sb) / len(sa | sb)


def near_identical_pairs(texts: Sequence[str], threshold: float = 0.8) -> list[tuple[int, int]]:
    """(earlier, later) index pairs of variants at least ``threshold`` similar."""
    return [(i, j) for j in range(len(texts)) for i in range(j)
            if shingle_similarity(texts[i], texts[j]) >= threshold]


# A draft shorter than this (in word equivalents) is too short to judge its language.
LANGUAGE_MIN_WORDS = 8
# The project's script must make up at least this share of the draft.
LANGUAGE_MIN_SHARE = 0.5
_SCRIPT_NAMES = {"latin": "Latin letters", "han": "Chinese characters",
                 "kana": "Japanese kana", "other": "another script"}
# At most this many traditional-character flags per draft; the last one counts the rest.
TRADITIONAL_MAX_FLAGS = 10


def check_language(text: str, language: str = DEFAULT_LANGUAGE) -> list[QualityFlag]:
    """Flag a draft written mostly in another script than its language's: mostly Latin
    letters in a Chinese project, mostly CJK (or Arabic, Hebrew, Cyrillic…) in an
    English one. Shares are in word equivalents; drafts under
    :data:`LANGUAGE_MIN_WORDS` are not judged."""
    lang = get_language(language)
    profile = script_profile(text)
    if profile.word_equivalents < LANGUAGE_MIN_WORDS:
        return []
    shares = profile.shares()
    if shares[lang.script] >= LANGUAGE_MIN_SHARE:
        return []
    main = max(shares, key=lambda k: shares[k])
    return [QualityFlag(WRONG_LANGUAGE,
                        f"written mostly in {_SCRIPT_NAMES[main]}, not {lang.name}")]


def check_simplified(text: str) -> list[QualityFlag]:
    """Flag each stretch of traditional Chinese characters (OpenCC t2s), naming its
    simplified form."""
    spans = traditional_spans(text)
    flags = []
    for k, (start, end, simplified) in enumerate(spans[:TRADITIONAL_MAX_FLAGS]):
        more = len(spans) - TRADITIONAL_MAX_FLAGS
        tail = f"; {more} more stretches" if k == TRADITIONAL_MAX_FLAGS - 1 and more > 0 else ""
        shown = simplified if len(simplified) <= 24 else simplified[:24] + "…"
        flags.append(QualityFlag(TRADITIONAL_CHINESE,
                                 f"traditional characters (simplified: {shown}){tail}",
                                 (start, end)))
    return flags


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
    language: str = DEFAULT_LANGUAGE,
    must: Iterable[str] = (),
    sources: Sequence[str] | None = None,
    never_claims: Iterable[str] = (),
) -> list[QualityFlag]:
    """All single-draft checks (variant similarity is checked across drafts by the
    engine with :func:`near_identical_pairs`). ``language`` is the project's content
    language code (``generation.languages``)."""
    lang = get_language(language)
    flags = check_completion(text, finish_reason)
    flags += check_language(text, lang.code)
    if lang.simplified_chinese:
        flags += check_simplified(text)
    flags += check_banned_terms(text, banned_terms)
    flags += check_style_rules(text, must_not)
    if text.strip():
        flags += check_must_rules(text, must)
    flags += check_personal_data(text)
    if sources is not None:
        # Claims and placeholders (generation.claims): what the draft states that the
        # brief, the voice and the retrieved knowledge (``sources``) do not.
        flags += [QualityFlag(f.code, f.message, f.span) for f in check_claims(text, sources)]
    flags += check_forbidden_claims(text, never_claims)
    if corpus:
        index = corpus if isinstance(corpus, ReferenceCorpus) else ReferenceCorpus(corpus)
        flags += index.check(text)
    return flags
