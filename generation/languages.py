"""Content languages: what a project writes in, the unit its lengths are counted in, and
the fixed prompt text in that language.

A project has one content language. Prompts use its :class:`PromptText` (and each kind's
text in that language, see ``KindTemplate.translations``); target lengths are in its
unit (words for English, characters for Chinese); the checks flag drafts written
mostly in another script and, for a simplified-Chinese project, traditional characters.

Adding a language is one :func:`register_language` call; a kind without its own text
in that language falls back to the English task text plus :attr:`PromptText.write_in`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from generation.errors import UnknownLanguageError
from generation.text import CJK_CHARS_PER_WORD

Unit = Literal["word", "character"]
Script = Literal["latin", "han"]


@dataclass(frozen=True)
class PromptText:
    """The fixed words of a prompt in one language. Fields with ``{}`` take one value."""

    system_role: str
    brand_voice: str
    always: str
    never: str
    banned_terms: str
    list_separator: str
    audience: str
    tone: str
    keywords: str
    instructions: str
    source_text: str
    field: str  # "{label}: {value}"
    # Added to the task of a kind that has no text of its own in this language.
    write_in: str = ""


@dataclass(frozen=True)
class Language:
    """One content language.

    ``units_per_word``: how many of its units say what one English word says (scales
    the kinds' default lengths); ``tokens_per_unit``: the generation budget per unit (a
    margin is added on top); ``script``: what most of a draft must be written in.
    """

    code: str
    name: str
    native_name: str
    unit: Unit
    units_label: str
    units_per_word: float
    tokens_per_unit: float
    max_target: int
    script: Script
    prompt: PromptText
    # Traditional characters in a draft are flagged (OpenCC t2s finds them).
    simplified_chinese: bool = False

    @property
    def label(self) -> str:
        return self.name if self.native_name == self.name else f"{self.native_name} ({self.name})"


ENGLISH = Language(
    code="en", name="English", native_name="English", unit="word", units_label="words",
    # English BPE text averages ~1.3 tokens per word.
    units_per_word=1.0, tokens_per_unit=1.4, max_target=4000, script="latin",
    prompt=PromptText(
        system_role=(
            "You are a professional writer for a content team. Follow the brief exactly, "
            "write only the requested text (no notes or explanations) and respect the "
            "brand rules."
        ),
        brand_voice="Brand voice: {}", always="Always:", never="Never:",
        banned_terms="Never use these words: {}.", list_separator=", ",
        audience="Audience: {}", tone="Tone: {}", keywords="Include these keywords: {}",
        instructions="Instructions: {}", source_text="Source text:\n{}",
        field="{label}: {value}", write_in="Write it in English.",
    ),
)

SIMPLIFIED_CHINESE = Language(
    code="zh-hans", name="Simplified Chinese", native_name="简体中文", unit="character",
    units_label="characters",
    # Tokenizers with Chinese merges (Qwen2.5's) need less than one token for most common
    # characters, byte-level BPEs without them up to 3; 1.0 with the builder's margin suits
    # the Chinese-capable models this language is meant for (not measured here).
    units_per_word=CJK_CHARS_PER_WORD, tokens_per_unit=1.0, max_target=6400, script="han",
    simplified_chinese=True,
    prompt=PromptText(
        system_role=(
            "你是内容团队的专业撰稿人。请严格按照写作要求，只输出所要求的正文（不要附加"
            "说明或解释），并遵守品牌规则。请用简体中文写作。"
        ),
        brand_voice="品牌语气：{}", always="必须：", never="禁止：",
        banned_terms="不得使用以下词语：{}。", list_separator="、",
        audience="读者：{}", tone="语气：{}", keywords="请包含以下关键词：{}",
        instructions="要求：{}", source_text="原文：\n{}", field="{label}：{value}",
        write_in="请用简体中文写作。",
    ),
)

DEFAULT_LANGUAGE = ENGLISH.code
LANGUAGES: dict[str, Language] = {}


def register_language(language: Language) -> Language:
    """Add (or replace) a content language."""
    LANGUAGES[language.code] = language
    return language


for _language in (ENGLISH, SIMPLIFIED_CHINESE):
    register_language(_language)


def get_language(code: str) -> Language:
    """The language with ``code``; UnknownLanguageError names the known ones."""
    try:
        return LANGUAGES[code]
    except KeyError:
        raise UnknownLanguageError(
            f"unknown content language {code!r} (known: {', '.join(sorted(LANGUAGES))})"
        ) from None


def language_choices() -> list[tuple[str, str]]:
    """(code, label) of every registered language, for forms and model choices."""
    return [(lang.code, lang.label) for lang in LANGUAGES.values()]
