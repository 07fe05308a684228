"""Dataclasses that describe a brief, a project's voice and few-shot examples."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

FieldType = Literal["text", "textarea", "int", "list", "choice"]


@dataclass(frozen=True)
class BriefInput:
    """What a brief asks for. Kind-specific fields (``product``, ``chapters``...) go in
    ``extra``; :data:`generation.prompts.KINDS` lists which ones each kind accepts.

    ``language`` is the project's content language (``generation.languages``): the
    prompt is written in it, and ``target_words`` is the target length in its unit
    (words for English, characters for Chinese)."""

    kind: str
    title: str
    instructions: str = ""
    audience: str = ""
    tone: str = ""
    keywords: tuple[str, ...] = ()
    target_words: int = 300
    source_text: str = ""
    extra: Mapping[str, str | int] = field(default_factory=dict)
    language: str = "en"


@dataclass(frozen=True)
class ProjectVoice:
    """A project's brand voice, style rules and banned terms."""

    brand_voice: str = ""
    must: tuple[str, ...] = ()
    must_not: tuple[str, ...] = ()
    banned_terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class FewShotExample:
    """An approved draft of the same kind, shown to the model as a prior turn: the
    brief it answered (rendered with the same template) and the approved text."""

    brief: BriefInput
    text: str


@dataclass(frozen=True)
class KindField:
    """One brief field of a content kind, enough for a form layer to render and check it.

    The form layer builds its form fields from these, so the form and the prompt agree
    on names, labels, limits and (for ``"choice"``) the allowed values.
    """

    name: str
    label: str
    type: FieldType = "text"
    required: bool = False
    help: str = ""
    default: str | int | None = None
    min_value: int | None = None
    max_value: int | None = None
    # Longest text accepted ("text", "textarea", "list"); None: the form layer's default.
    max_length: int | None = None
    # The allowed values of a "choice" field.
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class KindSpec:
    """Metadata of a content kind: label, description and its fields."""

    name: str
    label: str
    description: str
    fields: tuple[KindField, ...]
    default_target_words: int
    # One line for the kind picker: what this kind is for.
    hint: str = ""

    @property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    @property
    def optional_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if not f.required)


@dataclass(frozen=True)
class BuiltPrompt:
    """A prompt ready for the model: the chat messages, the exact text they render to
    and what was trimmed to fit the context window."""

    kind: str
    messages: tuple[dict[str, str], ...]
    text: str
    token_count: int
    max_new_tokens: int
    examples_used: int
    examples_dropped: int
    source_trimmed: bool
    # How many of the knowledge passages given (best first) are in the prompt: the rest
    # were left out to fit the context window.
    knowledge_used: int = 0
