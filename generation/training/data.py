"""Training examples, personal-data scrubbing and the JSONL records TRL reads.

Nothing here imports torch: the web process builds and stores examples with it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from generation.checks import CARD, EMAIL, ID_NUMBER, PHONE, find_personal_data
from generation.training.errors import InvalidExample

PROMPT_ROLES = frozenset({"system", "user", "assistant"})


def _normalise_messages(messages: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    if not messages:
        raise InvalidExample("An example needs at least one prompt message (the user turn).")
    out: list[dict[str, str]] = []
    for i, message in enumerate(messages):
        role = message.get("role")
        content = message.get("content")
        if role not in PROMPT_ROLES:
            raise InvalidExample(
                f"Message {i} has role {role!r}; expected one of {sorted(PROMPT_ROLES)}."
            )
        if not isinstance(content, str):
            raise InvalidExample(f"Message {i} has no text content.")
        # Only role and content travel: extra keys would change the hash of the same prompt.
        out.append({"role": role, "content": content})
    if out[-1]["role"] != "user":
        # The completion answers the last turn; a prompt ending on an assistant turn
        # would teach the model to continue its own text instead.
        raise InvalidExample(
            "The last prompt message must be the user turn the completion answers."
        )
    return out


def _check_completion(text: str, what: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidExample(f"The {what} is empty.")
    return text


def _canonical(obj: Any) -> str:
    # Sorted keys and fixed separators: the same example always serialises to the same bytes.
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class SFTExample:
    """One approved draft: the exact prompt it was generated from and the final text.

    ``messages`` are the system/user turns of the prompt (an FAQ dialogue may carry
    earlier assistant turns), ending with the user turn; ``completion`` is the text the
    editor approved (after their edits).
    """

    messages: tuple[dict[str, str], ...]
    completion: str

    def __init__(self, messages: Sequence[Mapping[str, str]], completion: str) -> None:
        object.__setattr__(self, "messages", tuple(_normalise_messages(messages)))
        object.__setattr__(self, "completion", _check_completion(completion, "completion"))

    def to_record(self) -> dict[str, Any]:
        """The conversational prompt-completion record TRL's SFTTrainer reads (loss on the
        completion only)."""
        return {
            "prompt": [dict(m) for m in self.messages],
            "completion": [{"role": "assistant", "content": self.completion}],
        }

    def to_messages_record(self) -> dict[str, Any]:
        """The conversational "messages" record (prompt turns plus the assistant turn)."""
        return {
            "messages": [dict(m) for m in self.messages]
            + [{"role": "assistant", "content": self.completion}]
        }

    def to_openai_record(self) -> dict[str, Any]:
        """OpenAI's chat fine-tuning line: the same plain turns as "messages"."""
        return self.to_messages_record()

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SFTExample:
        """Parse a record written by :meth:`to_record` (or a "messages" record)."""
        if "messages" in record:
            messages = list(record["messages"])
            if not messages or messages[-1].get("role") != "assistant":
                raise InvalidExample("A messages record must end with the assistant turn.")
            return cls(messages[:-1], messages[-1]["content"])
        completion = record.get("completion")
        if not isinstance(completion, list) or len(completion) != 1:
            raise InvalidExample("A prompt-completion record needs exactly one completion turn.")
        return cls(record.get("prompt") or [], completion[0].get("content", ""))

    @property
    def example_id(self) -> str:
        """sha256 of the canonical record: the example's identity in snapshots."""
        return hashlib.sha256(_canonical(self.to_record()).encode()).hexdigest()

    def __hash__(self) -> int:
        # The messages are dicts (unhashable); the canonical id identifies the example.
        return hash(self.example_id)


@dataclass(frozen=True)
class PreferenceExample:
    """An edited draft as a preference pair: the editor's text (``chosen``) over the
    model's original draft (``rejected``), for the same prompt."""

    messages: tuple[dict[str, str], ...]
    chosen: str
    rejected: str

    def __init__(self, messages: Sequence[Mapping[str, str]], chosen: str, rejected: str) -> None:
        object.__setattr__(self, "messages", tuple(_normalise_messages(messages)))
        object.__setattr__(self, "chosen", _check_completion(chosen, "chosen text"))
        object.__setattr__(self, "rejected", _check_completion(rejected, "rejected text"))
        if chosen == rejected:
            raise InvalidExample("The chosen and rejected texts are identical: nothing to prefer.")

    def to_record(self) -> dict[str, Any]:
        """The conversational preference record TRL's DPOTrainer reads."""
        return {
            "prompt": [dict(m) for m in self.messages],
            "chosen": [{"role": "assistant", "content": self.chosen}],
            "rejected": [{"role": "assistant", "content": self.rejected}],
        }

    def to_openai_record(self) -> dict[str, Any]:
        """OpenAI's preference (DPO) fine-tuning line: the prompt turns as ``input``,
        the editor's text preferred over the model's."""
        return {
            "input": {"messages": [dict(m) for m in self.messages]},
            "preferred_output": [{"role": "assistant", "content": self.chosen}],
            "non_preferred_output": [{"role": "assistant", "content": self.rejected}],
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> PreferenceExample:
        """Parse a record written by :meth:`to_record`."""
        try:
            chosen = record["chosen"][0]["content"]
            rejected = record["rejected"][0]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise InvalidExample("A preference record needs prompt, chosen and rejected.") from exc
        return cls(record.get("prompt") or [], chosen, rejected)

    def sft_view(self) -> SFTExample:
        """The chosen side as an SFT example (the editor's text is also a good answer)."""
        return SFTExample(self.messages, self.chosen)

    @property
    def example_id(self) -> str:
        """sha256 of the canonical record: the example's identity in snapshots."""
        return hashlib.sha256(_canonical(self.to_record()).encode()).hexdigest()

    def __hash__(self) -> int:
        # The messages are dicts (unhashable); the canonical id identifies the example.
        return hash(self.example_id)


def prompt_key(messages: Sequence[Mapping[str, str]]) -> str:
    """The canonical form of a prompt: equal for two prompts exactly when examples built
    from them carry the same ``messages``. Raises :class:`InvalidExample` as they would."""
    return _canonical(_normalise_messages(messages))


# One turn of a ChatML-rendered prompt (SmolLM2, Qwen2.5 and others): the format the
# studio's drafts carried their prompt in before they kept the messages themselves.
_CHATML_TURN = re.compile(r"<\|im_start\|>(system|user|assistant)\n(.*?)<\|im_end\|>\n?", re.S)
_CHATML_GENERATION_PROMPT = "<|im_start|>assistant\n"


def plain_turns(messages: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """The plain system/user/assistant turns of a prompt.

    Drafts written before the studio kept their prompt messages stored the prompt as the
    model saw it: one text already rendered with the chat template, later wrapped in a
    single user message, so any trainer applied its template a second time. When
    ``messages`` is such a single user message holding a ChatML-rendered conversation
    (the bundled SmolLM2's format and Qwen's), its turns are returned as they were before
    rendering (the trailing generation prompt dropped); anything else is returned as is.
    The text must parse whole, and end on a user turn, or it is left alone.
    """
    original = [{"role": m.get("role", ""), "content": m.get("content", "")} for m in messages]
    if len(original) != 1 or original[0]["role"] != "user":
        return original
    text = original[0]["content"]
    if not isinstance(text, str) or not text.startswith("<|im_start|>"):
        return original
    body = text.rstrip("\n")
    if body.endswith(_CHATML_GENERATION_PROMPT.rstrip("\n")):
        body = body[: -len(_CHATML_GENERATION_PROMPT.rstrip("\n"))]
    turns: list[dict[str, str]] = []
    position = 0
    for match in _CHATML_TURN.finditer(body):
        if match.start() != position:
            return original
        turns.append({"role": match.group(1), "content": match.group(2)})
        position = match.end()
    if position != len(body) or not turns or turns[-1]["role"] != "user":
        return original
    return turns


def to_jsonl(records: Sequence[Mapping[str, Any]]) -> str:
    """Serialise records one JSON object a line, byte-stable for equal input."""
    return "".join(_canonical(r) + "\n" for r in records)


# --- Personal data -------------------------------------------------------------------

PLACEHOLDERS = {EMAIL: "[email]", PHONE: "[phone]", CARD: "[card]", ID_NUMBER: "[id]"}


def scrub_personal_data(text: str) -> str:
    """Replace each email address, Luhn-valid card number, phone number (mainland China
    mobiles and landlines included) and resident ID number in ``text`` with ``[email]``,
    ``[card]``, ``[phone]`` or ``[id]``.

    Call it on every prompt and completion before storing a training example, so a
    model never learns (and later repeats) a customer's contact or card details. What
    is replaced is exactly what :func:`generation.checks.find_personal_data` finds, the
    same spans a draft's personal-data flags point at; scrubbing twice changes nothing.
    """
    parts: list[str] = []
    last = 0
    for span in find_personal_data(text):
        parts += [text[last:span.start], PLACEHOLDERS[span.kind]]
        last = span.end
    return "".join(parts) + text[last:]


def scrub_messages(messages: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """:func:`scrub_personal_data` applied to the content of every message."""
    return [{"role": m["role"], "content": scrub_personal_data(m["content"])} for m in messages]
