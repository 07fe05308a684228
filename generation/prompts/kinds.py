"""One template per content kind. Adding a kind = one subclass + ``register_kind``.

The template is the single description of a kind: its label, its picker hint and its
fields (the studio builds the kind's brief form, its choices and its API values from it).

A template turns a brief into the task text of the user message. The system message
(brand voice, rules, banned terms) and the common fields are added by the builder, so
a template only says what is special about its kind. ``translations`` holds its task
text and field labels in other content languages (``generation.languages``); a language
it lacks gets the English task and a line asking for that language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import ClassVar

from generation.errors import MissingFieldError, UnknownKindError
from generation.languages import ENGLISH, get_language
from generation.prompts.types import BriefInput, KindField, KindSpec

# The longest English target (words); each language has its own (``max_target``).
MAX_TARGET_WORDS = ENGLISH.max_target


@dataclass(frozen=True)
class KindText:
    """A kind's task text in one language: ``ask`` with ``{target_words}`` (the length
    in the language's unit) and ``{title}``, and the prompt labels of its extra fields
    (a field without one keeps its English label)."""

    ask: str
    field_labels: Mapping[str, str] = field(default_factory=dict)

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
    # The same in other content languages, by language code.
    translations: ClassVar[Mapping[str, KindText]] = {}

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
        most = get_language(brief.language).max_target
        if not 1 <= brief.target_words <= most:
            raise MissingFieldError(
                f"{cls.name}: target_words must be 1..{most}, got {brief.target_words}"
            )

    @classmethod
    def task(cls, brief: BriefInput) -> list[str]:
        """Lines that say what to write, in the brief's language; kinds with extra
        fields add them here."""
        language = get_language(brief.language)
        text = cls.translations.get(language.code)
        ask = text.ask if text is not None else cls.ask
        lines = [ask.format(target_words=brief.target_words, title=brief.title.strip())]
        if text is None and language.code != ENGLISH.code:
            lines.append(language.prompt.write_in)
        labels = text.field_labels if text is not None else {}
        for f in cls.extra_fields:
            if f.name == "source_text":
                continue
            value = cls.extra_value(brief, f.name)
            if value:
                lines.append(language.prompt.field.format(label=labels.get(f.name, f.label),
                                                          value=value))
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
    translations = {"zh-hans": KindText("请写一篇约{target_words}字的文章，标题为“{title}”。")}


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
    translations = {"zh-hans": KindText(
        "请写一篇约{target_words}字的新闻报道，标题为“{title}”。把最重要的事实放在最前面，"
        "保持客观。",
        {"location": "地点"},
    )}


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
    translations = {"zh-hans": KindText(
        "请为“{title}”写一段约{target_words}字的广告文案：一个标题、一段简短正文和一句"
        "行动号召。",
        {"product": "产品", "channel": "投放渠道", "call_to_action": "行动号召"},
    )}


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
    translations = {"zh-hans": KindText(
        "请用约{target_words}字概括下面的原文，标题为“{title}”。不要添加原文中没有的事实。"
    )}


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
    translations = {"zh-hans": KindText(
        "请为“{title}”写一份约{target_words}字的章节大纲：章节编号，每章有标题和一两句说明。",
        {"chapters": "章节数"},
    )}


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
    translations = {"zh-hans": KindText(
        "请写一条约{target_words}字的社交媒体帖子，主题是“{title}”。", {"platform": "平台"}
    )}


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
    translations = {"zh-hans": KindText(
        "请写一封约{target_words}字的邮件，内容关于“{title}”。第一行写“主题：……”，然后是正文。",
        {"subject_hint": "主题方向"},
    )}


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
    translations = {"zh-hans": KindText(
        "请写一份约{target_words}字的常见问题解答，主题是“{title}”。每个问题单独一行，以"
        "“问：”开头；答案另起一行，以“答：”开头。",
        {"questions": "问题数量"},
    )}


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


def default_target(kind: str, language: str = ENGLISH.code) -> int:
    """The kind's default target length in the language's unit: its default in words,
    scaled by the language's units per word (600 words → 960 Chinese characters)."""
    words = get_template(kind).default_target_words
    scale = get_language(language).units_per_word
    return words if scale == 1 else max(10, round(words * scale / 10) * 10)


def get_template(kind: str) -> type[KindTemplate]:
    """The template class of ``kind``; UnknownKindError names the known kinds."""
    try:
        return _TEMPLATES[kind]
    except KeyError:
        raise UnknownKindError(
            f"unknown content kind {kind!r} (known: {', '.join(sorted(_TEMPLATES))})"
        ) from None
