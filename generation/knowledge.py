"""Project knowledge: split documents into passages and retrieve the ones a brief needs.

Plain Python (no Django): the studio stores passages and calls :func:`retrieve` with a
brief's text; the prompt builder puts what comes back under "Facts you may use".

* **Passages.** A document is split at blank lines into paragraphs, each paragraph into
  sentences (Latin ``. ! ?`` followed by a space; CJK ``。！？；`` need none), and the
  sentences are packed into passages of at most ``max_chars`` characters, a few
  sentences each. A list of facts is one passage per line.
* **Tokens.** Text is NFKC-normalised and lower-cased; Latin, Cyrillic and other
  space-separated scripts give words (a few English function words dropped, a plural
  ``s`` folded), numbers stay whole ("8.99"), and Han, kana and Hangul runs give
  character bigrams, since Chinese and Japanese do not put spaces between words.
* **Ranking.** BM25 (``rank_bm25.BM25Okapi``, k1 1.5, b 0.75) with Lucene's idf,
  ``log(1 + (N - df + 0.5) / (df + 0.5))``, which stays positive: rank_bm25's own idf
  is negative for a term in more than half the passages, so a project with one or two
  passages would never match. A passage that shares no token with the query scores 0
  and is never retrieved.

The fixed evaluation in :mod:`generation.knowledge_eval` measures recall@k.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import regex
from rank_bm25 import BM25Okapi

# One token each: a number (with its decimal point or thousands separators), a word of
# letters/digits/marks (inner ' ’ - join), or a run of CJK characters (split further
# into bigrams).
_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}"
_TOKEN = regex.compile(
    rf"(?P<cjk>[{_CJK}]+)|(?P<num>\p{{N}}+(?:[.,]\p{{N}}+)*)"
    rf"|(?P<word>[\p{{L}}\p{{M}}\p{{N}}]+(?:['’\-][\p{{L}}\p{{M}}\p{{N}}]+)*)"
)
# English function words: they match almost every passage and would let any brief pull
# in any passage. Content words, numbers and CJK bigrams are never dropped.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your
    yours yourself yourselves write writing written us let get make new""".split()  # noqa: SIM905 - a word list reads better as text
)
# A sentence ends at Latin terminal punctuation followed by whitespace (not between
# digits: "3.5"), or at CJK terminal punctuation, which needs no space after it.
_SENTENCE_END = regex.compile(r"(?<=[.!?…][\"'”’)\]]*)\s+|(?<=[。！？；][”’」』）]*)")
_PARAGRAPH = regex.compile(r"\n\s*\n")


def tokenize(text: str) -> list[str]:
    """The BM25 tokens of ``text``: words for space-separated scripts, character bigrams
    for Han and kana runs (a lone character stays a unigram)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    tokens: list[str] = []
    for m in _TOKEN.finditer(text):
        if m.group("cjk"):
            run = m.group("cjk")
            if len(run) == 1:
                tokens.append(run)
            else:
                tokens += [run[i:i + 2] for i in range(len(run) - 1)]
        elif m.group("num"):
            tokens.append(m.group("num").replace(",", ""))
        else:
            word = m.group("word").replace("’", "'")
            if word.endswith("'s"):
                word = word[:-2]
            if word in STOPWORDS:
                continue
            if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
                word = word[:-1]
            tokens.append(word)
    return tokens


def sentences(text: str) -> list[str]:
    """``text`` split into sentences (and lines: a list item or a heading is one)."""
    out: list[str] = []
    for line in text.splitlines():
        out += [s.strip() for s in _SENTENCE_END.split(line) if s.strip()]
    return out


def split_passages(text: str, *, max_chars: int = 600) -> list[str]:
    """Passages of a document: consecutive sentences of one paragraph, at most
    ``max_chars`` characters each (a longer sentence is cut at a space, or anywhere in
    text without spaces)."""
    passages: list[str] = []
    for paragraph in _PARAGRAPH.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        current = ""
        for sentence in sentences(paragraph):
            for piece in _cut(sentence, max_chars):
                joiner = "" if not current or _is_cjk_end(current) else " "
                if current and len(current) + len(joiner) + len(piece) > max_chars:
                    passages.append(current)
                    current = piece
                else:
                    current += joiner + piece
        if current:
            passages.append(current)
    return passages


def fact_lines(text: str) -> list[str]:
    """The facts of a fact list: one per non-empty line, list markers removed."""
    facts = []
    for line in text.splitlines():
        fact = regex.sub(r"^\s*(?:[-*•]\s+|\d{1,3}[.)]\s+)?", "", line).strip()
        if fact:
            facts.append(fact)
    return facts


def _is_cjk_end(text: str) -> bool:
    return bool(regex.match(rf"[{_CJK}。！？；，、”’」』）]", text[-1:]))


def _cut(sentence: str, max_chars: int) -> Iterable[str]:
    while len(sentence) > max_chars:
        cut = sentence.rfind(" ", max_chars // 2, max_chars + 1)
        cut = cut if cut > 0 else max_chars
        yield sentence[:cut].strip()
        sentence = sentence[cut:].strip()
    if sentence:
        yield sentence


@dataclass(frozen=True)
class Passage:
    """A passage to rank: ``key`` is the caller's id for it (a database id)."""

    key: int
    text: str


@dataclass(frozen=True)
class Retrieved:
    """A passage chosen for a prompt, with its BM25 score."""

    key: int
    text: str
    score: float


@dataclass(frozen=True)
class Retrieval:
    """What :func:`retrieve` chose, best first, and how many of the top ``k`` matches
    were left out because they did not fit the character budget."""

    passages: tuple[Retrieved, ...]
    left_out: tuple[Retrieved, ...] = ()


class _BM25(BM25Okapi):
    """BM25Okapi with Lucene's always-positive idf (see the module docstring)."""

    def _calc_idf(self, nd: dict[str, int]) -> None:
        for word, freq in nd.items():
            self.idf[word] = math.log(1 + (self.corpus_size - freq + 0.5) / (freq + 0.5))


def rank(query: str, passages: Sequence[Passage]) -> list[tuple[int, float]]:
    """Indexes into ``passages`` with a positive BM25 score for ``query``, best first
    (ties keep the passages' order)."""
    terms = list(dict.fromkeys(tokenize(query)))
    docs = [tokenize(p.text) for p in passages]
    if not terms or not any(docs):
        return []
    # rank_bm25 divides by the mean length: a corpus of empty passages has none.
    bm25 = _BM25([d or [""] for d in docs])
    scores = bm25.get_scores(terms)
    order = sorted(range(len(passages)), key=lambda i: (-scores[i], i))
    return [(i, float(scores[i])) for i in order if scores[i] > 0]


def retrieve(query: str, passages: Sequence[Passage], *, k: int, char_budget: int) -> Retrieval:
    """The best ``k`` passages for ``query`` that fit in ``char_budget`` characters
    together, best first. A top-``k`` passage that would overflow the budget is left out
    (and reported), and a smaller one further down the top ``k`` may still fit."""
    chosen: list[Retrieved] = []
    left_out: list[Retrieved] = []
    used = 0
    for i, score in rank(query, passages)[:max(0, k)]:
        item = Retrieved(key=passages[i].key, text=passages[i].text, score=round(score, 4))
        if used + len(item.text) <= char_budget:
            chosen.append(item)
            used += len(item.text)
        else:
            left_out.append(item)
    return Retrieval(passages=tuple(chosen), left_out=tuple(left_out))
