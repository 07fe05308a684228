"""Claim checks: what a draft states that nobody told the model, and text left to fill in.

A *claim* is a span a reader would take as a fact about the product: a number (prices,
percentages, quantities), a date, a duration, a model or product code, a superlative
("the best", "#1", 最便宜). A claim is *supported* when the brief, the project's voice or
the knowledge passages retrieved for the brief state it too:

* numbers compare by value, so "$8.99", "8.99" and "8.990" agree and "12 cups" is
  supported by "12 cups per bottle" (the unit is not compared: "12" was said);
* superlatives and product codes compare as normalised phrases (case, width, zero-width
  characters and look-alike letters do not count; see :mod:`generation.text`).

An unsupported claim becomes an ``unsupported_claim`` flag on its span; a placeholder
("[Your company]", "{brand}", "XX%", "【此处填写】") becomes a ``placeholder`` flag; a
phrase from the project's list of claims it must never make becomes ``forbidden_claim``.
English and Chinese alike; pure Python, no torch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from generation.prompts.types import BriefInput, ProjectVoice
from generation.text import normalise

UNSUPPORTED_CLAIM = "unsupported_claim"
PLACEHOLDER = "placeholder"
FORBIDDEN_CLAIM = "forbidden_claim"

# -- what counts as a claim ---------------------------------------------------------------

_MONTHS = ("january|february|march|april|may|june|july|august|september|october|"
           "november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_DURATION_UNITS = (r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\b"
                   "|秒钟?|分钟|小时|天|日|周|星期|个月|年")
# A number: digits with thousands separators and decimals (full-width digits are folded
# to ASCII by the normalisation first).
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_CLAIM_PATTERNS: tuple[tuple[str, str], ...] = (
    ("date", rf"\b(?:{_MONTHS})\.? \d{{1,2}}(?:st|nd|rd|th)?\b|\b\d{{1,2}} (?:{_MONTHS})\b"
             r"|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b"
             r"|\d{1,4}年\d{1,2}月(?:\d{1,2}[日号])?|\d{1,2}月\d{1,2}[日号]"),
    ("price", rf"(?:[$€£¥￥]|\b(?:usd|eur|gbp|rmb|cny)\s?)\s?(?:{_NUMBER})"
              rf"|(?:{_NUMBER})\s?(?:元|块钱|块|美元|欧元|英镑|\b(?:dollars?|euros?|pounds?|usd|eur)\b)"),
    ("percent", rf"(?:{_NUMBER})\s?(?:%|％|\bper ?cent\b)|百分之[\d一二三四五六七八九十百]+"),
    ("duration", rf"(?:{_NUMBER})\s?-?\s?(?:{_DURATION_UNITS})"),
    # Model and product codes: letters then digits ("X200", "v2", "pro-15"), or a mark.
    ("product", r"\b[a-z]+-?\d+[a-z\d]*\b|\b\w+®"),
    ("number", rf"(?<![a-z\d.])(?:{_NUMBER})(?![a-z\d.]*\d)"),
)
_SUPERLATIVES_EN = (
    "best", "finest", "greatest", "fastest", "cheapest", "lowest", "highest", "largest",
    "biggest", "smallest", "strongest", "freshest", "healthiest", "safest", "purest",
    "tastiest", "smoothest", "richest", "most popular", "most trusted", "most loved",
    "number one", "no. 1", "#1", "world's first", "first ever", "unbeatable",
    "unrivalled", "unrivaled", "leading", "guaranteed", "clinically proven",
    "award-winning",
)
_SUPERLATIVES_ZH = ("最[\u4e00-\u9fff]{1,2}", "第一", "顶级", "唯一", "首款", "首个", "首家",
                    "冠军", "无与伦比", "独一无二", "保证", "百分百")
_SUPERLATIVE = re.compile(
    r"(?<![\w#])(?:" + "|".join(re.escape(s) for s in _SUPERLATIVES_EN) + r")(?!\w)"
    r"|(?:" + "|".join(_SUPERLATIVES_ZH) + ")",
)
_CLAIMS = re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _CLAIM_PATTERNS),
                     re.IGNORECASE)
_NUMBER_IN = re.compile(_NUMBER)

# -- placeholders ---------------------------------------------------------------------------

_SLOT_WORDS = ("your|company|brand|product|name|insert|link|url|website|date|price|city|"
               "address|email|phone|number|placeholder|here|title|author|amount|location|"
               "discount|code|xx")
_PLACEHOLDER = re.compile(
    rf"\[[^\[\]\n]{{0,40}}\b(?:{_SLOT_WORDS})\b[^\[\]\n]{{0,40}}\]"  # [Your company]
    r"|\{\{?\s*[A-Za-z_][\w .-]{0,30}\}\}?"  # {brand}, {{ name }}
    rf"|<\s*(?:insert|your|add)\b[^<>\n]{{0,40}}>"  # <insert link>
    r"|(?<![\w])[$€£¥]?X{2,}(?:[.,]X+)?%?(?![\w])"  # XX%, $XX, XXX
    r"|\bTBD\b|\bTK\b|lorem ipsum"
    r"|【[^【】\n]{0,20}(?:此处|填写|插入|公司|品牌|名称|产品|链接|日期|价格)[^【】\n]{0,20}】"
    r"|[（(]\s*(?:此处|请)?(?:填写|插入)[^（）()\n]{0,20}[)）]|某某|XX[元%]",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Claim:
    kind: str  # date, price, percent, duration, product, number, superlative
    text: str
    span: tuple[int, int]


@dataclass(frozen=True)
class ClaimFlag:
    """What :func:`check_claims` found (``generation.checks`` turns these into flags)."""

    code: str
    message: str
    span: tuple[int, int]


def find_claims(text: str) -> list[Claim]:
    """Every claim in ``text``, in order, with its span in ``text``."""
    norm = normalise(text)
    claims = []
    for m in _CLAIMS.finditer(norm.text):
        kind = m.lastgroup or "number"
        if kind == "number" and _is_list_marker(norm.text, m.start(), m.end()):
            continue
        start, end = norm.span(m.start(), m.end())
        claims.append(Claim(kind, text[start:end], (start, end)))
    for m in _SUPERLATIVE.finditer(norm.text.casefold()):
        start, end = norm.span(m.start(), m.end())
        claims.append(Claim("superlative", text[start:end], (start, end)))
    claims.sort(key=lambda c: (c.span[0], -c.span[1]))
    # A claim inside another ("1" in "#1") is the same claim.
    kept: list[Claim] = []
    for claim in claims:
        if kept and claim.span[1] <= kept[-1].span[1]:
            continue
        kept.append(claim)
    return kept


def _is_list_marker(text: str, start: int, end: int) -> bool:
    """"1." / "2)" at the start of a line numbers a list; it claims nothing."""
    line_start = text.rfind("\n", 0, start) + 1
    return not text[line_start:start].strip() and text[end:end + 1] in (".", ")", "、")


def number_values(text: str) -> set[Decimal]:
    """The numbers in (normalised) ``text``, by value: "24.99", "24.990" and "1,000"
    compare as numbers."""
    values = set()
    for m in _NUMBER_IN.finditer(text):
        try:
            values.add(Decimal(m.group().replace(",", "")).normalize())
        except InvalidOperation:
            continue
    return values


class ClaimSources:
    """What a draft may state: the brief, the project's voice, the knowledge passages."""

    def __init__(self, texts: Iterable[str]) -> None:
        joined = "\n".join(t for t in texts if t)
        self.norm = normalise(joined).text
        self.values = number_values(self.norm)

    def supports(self, claim: Claim) -> bool:
        if claim.kind in ("superlative", "product"):
            phrase = " ".join(normalise(claim.text).text.split())
            return bool(phrase) and phrase in " ".join(self.norm.split())
        values = number_values(normalise(claim.text).text)
        return bool(values) and values <= self.values


def find_placeholders(text: str) -> list[tuple[int, int]]:
    norm = normalise(text)
    return [norm.span(m.start(), m.end()) for m in _PLACEHOLDER.finditer(norm.text)]


def check_claims(text: str, sources: Sequence[str]) -> list[ClaimFlag]:
    """Flags for ``text``: unsupported claims (against ``sources``) and placeholders.
    A project's claims never to make are matched like banned terms
    (``generation.checks.check_forbidden_claims``)."""
    flags: list[ClaimFlag] = []
    placeholders = find_placeholders(text)
    for span in placeholders:
        flags.append(ClaimFlag(PLACEHOLDER, f"placeholder left in the text: {text[span[0]:span[1]]!r}",
                               span))
    known = ClaimSources(sources)
    for claim in find_claims(text):
        inside = any(s <= claim.span[0] and claim.span[1] <= e for s, e in placeholders)
        if inside or known.supports(claim):
            continue
        flags.append(ClaimFlag(
            UNSUPPORTED_CLAIM,
            f"{claim.kind} {claim.text!r} is not in the brief or the project's knowledge",
            claim.span,
        ))
    return sorted(flags, key=lambda f: f.span)


def brief_sources(brief: BriefInput, voice: ProjectVoice | None = None,
                  knowledge: Sequence[str] = (), examples: Iterable[str] = ()) -> list[str]:
    """What a draft may state: the brief's fields, the project's voice and must rules,
    the knowledge passages its prompt held and the approved examples it was shown."""
    voice = voice or ProjectVoice()
    return [brief.title, brief.instructions, brief.audience, brief.tone, *brief.keywords,
            *(str(v) for v in brief.extra.values()), brief.source_text, voice.brand_voice,
            *voice.must, *knowledge, *examples]
