"""One template per content kind. Adding a kind = one subclass + ``register_kind``.

The template is the single description of a kind: its label, its picker hint and its
fields (the studio builds the kind's brief form, its choices and its API values from it).

A template turns a brief into the task text of the user message. The system message
(brand voice, rules, banned terms) and the common fields are added by the builder, so
a template only says what is special about its kind.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from generation.errors import MissingFieldError, UnknownKindError
from generation.prompts.types import BriefInput, KindField, KindSpec

MAX_TARGET_WORDS = 4000

COMMON_FIELDS: tuple[KindField, ...] = (
    KindField("title", "Title", required=True, max_length=200),
    KindField("instructions", "Instructions", "textarea", max_length=8000,
              help="What the piece must do. The model follows this most closely."),
    KindField("audience", "Audience", max_length=300),
    KindField("tone", "Tone", max_length=120),
    KindField("keywords", "Keywords", "list", max_length=500, help="Comma-separated."),
    KindField(
        "target_words", "Target length (words)", "int", min_value=10, max_value=MAX_TARGET_WORDS
    ),
)


class KindTemplate:
    """Base class: subclasses set the class attributes and may override ``task``."""

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    # One line on the brief desk's kind picker.
    hint: ClassVar[str] = ""
    default_target_words: ClassVar[int] = 300
    extra_fields: ClassVar[tuple[KindField, ...]] = ()
    # What the model is asked to write, with {target_words} filled in.
    ask: ClassVar[str]

    @classmethod
    def spec(cls) -> KindSpec:
        common = tuple(
            replace(f, default=cls.default_target_words)
            if f.name == "target_words"
            else f
            for f in COMMON_FIELDS
        )
        return KindSpec(cls.name, cls.label, cls.description, common + cls.extra_fields,
                        cls.default_target_words, cls.hint)

    @classmethod
    def extra_value(cls, brief: BriefInput, name: str) -> str:
        value = brief.extra.get(name)
        if value in (None, ""):
            for f in cls.extra_fields:
                if f.name == name and f.default is not None:
                    return str(f.default)
            return ""
        return str(value).strip()

    @classmethod
    def validate(cls, brief: BriefInput) -> None:
        """Raise MissingFieldError for an empty required field."""
        if not brief.title.strip():
            raise MissingFieldError(f"{cls.name}: title is required")
        for f in cls.extra_fields:
            if not f.required:
                continue
            present = brief.source_text.strip() if f.name == "source_text" else (
                cls.extra_value(brief, f.name)
            )
            if not present:
                raise MissingFieldError(f"{cls.name}: {f.name} is required")
            if f.type == "int":
                _check_int(cls.name, f, cls.extra_value(brief, f.name))
        for f in cls.extra_fields:
            if f.type == "int" and not f.required and f.name in brief.extra:
                _check_int(cls.name, f, cls.extra_value(brief, f.name))
            if f.type == "choice" and f.choices:
                value = cls.extra_value(brief, f.name)
                if value and value not in f.choices:
                    raise MissingFieldError(
                        f"{cls.name}: {f.name} must be one of {', '.join(f.choices)}, got {value!r}"
                    )
        if not 1 <= brief.target_words <= MAX_TARGET_WORDS:
            raise MissingFieldError(
                f"{cls.name}: target_words must be 1..{MAX_TARGET_WORDS}, got {brief.target_words}"
            )

    @classmethod
    def task(cls, brief: BriefInput) -> list[str]:
        """Lines that say what to write; kinds with extra fields add them here."""
        lines = [cls.ask.format(target_words=brief.target_words, title=brief.title.strip())]
        for f in cls.extra_fields:
            if f.name == "source_text":
                continue
            value = cls.extra_value(brief, f.name)
            if value:
                lines.append(f"{f.label}: {value}")
        return lines


def _check_int(kind: str, f: KindField, value: str) -> None:
    try:
        number = int(value)
    except ValueError:
        raise MissingFieldError(f"{kind}: {f.name} must be a whole number, got {value!r}") from None
    low = f.min_value if f.min_value is not None else number
    high = f.max_value if f.max_value is not None else number
    if not low <= number <= high:
        raise MissingFieldError(f"{kind}: {f.name} must be {low}..{high}, got {number}")


class ArticleTemplate(KindTemplate):
    name = "article"
    label = "Article"
    description = "A blog or magazine article with a headline and paragraphs."
    hint = "A blog post or feature in the house voice."
    default_target_words = 600
    ask = "Write an article of about {target_words} words titled \"{title}\"."


class NewsTemplate(KindTemplate):
    name = "news"
    label = "News story"
    description = "A factual news item: most important facts first, no opinions."
    hint = "A news item from facts or a press release."
    default_target_words = 350
    extra_fields = (
        KindField("location", "Dateline / location", help="Where it happened.", max_length=120),
        KindField("source_text", "Facts / press release", "textarea"),
    )
    ask = (
        "Write a news story of about {target_words} words headlined \"{title}\". "
        "Put the most important facts first and stay factual."
    )


class AdCopyTemplate(KindTemplate):
    name = "ad_copy"
    label = "Ad copy"
    description = "A headline, a short body and a call to action for one product."
    hint = "Short ad lines for a channel, with A/B variants."
    default_target_words = 60
    extra_fields = (
        KindField("product", "Product", required=True, help="What is advertised.",
                  max_length=200),
        KindField("channel", "Channel", "choice", help="Where the ad runs.",
                  choices=("Instagram", "Facebook", "Search", "LinkedIn", "TikTok", "Display",
                           "Email", "Print")),
        KindField("call_to_action", "Call to action", help="e.g. Order today.",
                  max_length=120),
    )
    ask = (
        "Write ad copy of about {target_words} words for \"{title}\": a headline, a short "
        "body and a call to action."
    )


class SummaryTemplate(KindTemplate):
    name = "summary"
    label = "Summary"
    description = "A faithful summary of a source text."
    hint = "A faithful summary of a source text."
    default_target_words = 120
    extra_fields = (
        KindField("source_text", "Source text", "textarea", required=True,
                  help="The text to summarise."),
    )
    ask = (
        "Summarise the source text below in about {target_words} words under the title "
        "\"{title}\". Do not add facts that are not in the source."
    )


class OutlineTemplate(KindTemplate):
    name = "outline"
    label = "Outline"
    description = "A chapter outline for a book, guide or long article."
    hint = "Chapters and sections for a long piece or a book."
    default_target_words = 300
    extra_fields = (
        KindField("chapters", "Number of chapters", "int", default=8, min_value=1,
                  max_value=40),
    )
    ask = (
        "Write a chapter outline for \"{title}\" in about {target_words} words: numbered "
        "chapters, each with a title and one or two sentences."
    )


class SocialPostTemplate(KindTemplate):
    name = "social_post"
    label = "Social post"
    description = "A short post for a social network."
    hint = "A post sized for one platform."
    default_target_words = 50
    extra_fields = (
        KindField("platform", "Platform", "choice",
                  choices=("Instagram", "LinkedIn", "X", "Facebook", "TikTok")),
    )
    ask = "Write a social media post of about {target_words} words about \"{title}\"."


class EmailTemplate(KindTemplate):
    name = "email"
    label = "Email"
    description = "An email with a subject line and a body."
    hint = "A newsletter or customer email with a subject."
    default_target_words = 200
    extra_fields = (
        KindField("subject_hint", "Subject idea", help="What the subject says.", max_length=200),
    )
    ask = (
        "Write an email of about {target_words} words about \"{title}\". Start with a "
        "line \"Subject: ...\", then the body."
    )


class FaqTemplate(KindTemplate):
    name = "faq"
    label = "FAQ"
    description = "Questions and answers (or a short dialogue) on one topic."
    hint = "Questions and answers from reference material."
    default_target_words = 300
    extra_fields = (
        KindField("questions", "Number of questions", "int", default=5, min_value=1,
                  max_value=30),
        KindField("source_text", "Reference material", "textarea"),
    )
    ask = (
        "Write a FAQ of about {target_words} words about \"{title}\". Write each question "
        "on a line starting with \"Q:\" and its answer on a line starting with \"A:\"."
    )


_TEMPLATES: dict[str, type[KindTemplate]] = {}


def register_kind(template: type[KindTemplate]) -> type[KindTemplate]:
    """Add (or replace) a content kind; usable as a class decorator."""
    _TEMPLATES[template.name] = template
    KINDS[template.name] = template.spec()
    return template


def unregister_kind(name: str) -> None:
    """Remove a content kind (tests that register one of their own clean up with this)."""
    _TEMPLATES.pop(name, None)
    KINDS.pop(name, None)


KINDS: dict[str, KindSpec] = {}
for _template in (ArticleTemplate, NewsTemplate, AdCopyTemplate, SummaryTemplate,
                  OutlineTemplate, SocialPostTemplate, EmailTemplate, FaqTemplate):
    register_kind(_template)


def get_template(kind: str) -> type[KindTemplate]:
    """The template class of ``kind``; UnknownKindError names the known kinds."""
    try:
        return _TEMPLATES[kind]
    except KeyError:
        raise UnknownKindError(
            f"unknown content kind {kind!r} (known: {', '.join(sorted(_TEMPLATES))})"
        ) from None
