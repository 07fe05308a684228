"""Clean endings: a draft stops at a sentence boundary, never mid-sentence.

Two rules, used by the engine:

* **stop near the target.** Once a row has written its target length in tokens, it
  stops at the first token that ends a sentence (``sentence_end_ids`` marks those in the
  vocabulary once per tokenizer), so a draft ends where a sentence does, close to the
  length the brief asked for;
* **trim at the cap.** A row that reaches its hard token cap mid-sentence is trimmed to
  its last complete sentence (``trim_to_sentence``) and flagged "shortened"; only a draft
  without any complete sentence is left as written (and flagged "truncated").

Sentence ends are Latin ``. ! ? …`` and CJK ``。！？``, optionally followed by closing
quotes or brackets. A full stop between digits ("3.5") or after a one-letter word
("e.g.") does not end a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_CLOSERS = "\"'”’)\\]」』】》*"
# A sentence end: terminal punctuation, then closing quotes/brackets, then whitespace or
# the end of the text. Not an initial or abbreviation ("e.g. ", "J. "), not a list
# number at the start of a line ("2. "); CJK ends need no space after them.
_END = re.compile(
    rf"(?<!\b[A-Za-z])(?<!^\d)(?<!^\d\d)[.!?…]+[{_CLOSERS}]*(?=\s|$)|[。！？]+[{_CLOSERS}]*",
    re.MULTILINE,
)
# A token that ends a sentence: its text ends with terminal punctuation (and closers).
_TOKEN_END = re.compile(rf"[.!?…。！？][{_CLOSERS}]*\s*$")


def ends_sentence(text: str) -> bool:
    """True when ``text`` ends at a sentence boundary."""
    stripped = text.rstrip()
    return any(m.end() == len(stripped) for m in _END.finditer(stripped)) if stripped else False


def trim_to_sentence(text: str) -> tuple[str, bool]:
    """``text`` cut after its last complete sentence, and whether anything was cut.

    Text that already ends a sentence, or has no complete sentence at all, comes back
    whole (False)."""
    stripped = text.rstrip()
    if ends_sentence(stripped):
        return stripped, False
    ends = [m.end() for m in _END.finditer(stripped)]
    # A cut list item or heading: end at the last full line instead, when it is later.
    last_line = stripped.rfind("\n")
    cut = max([*ends, last_line if last_line > 0 else 0])
    if cut <= 0:
        return stripped, False
    return stripped[:cut].rstrip(), True


def sentence_end_ids(tokens: Sequence[str]) -> list[bool]:
    """For each token's text (as decoded alone), whether it ends a sentence."""
    return [bool(_TOKEN_END.search(t)) for t in tokens]
