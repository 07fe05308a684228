"""One form per content kind: the common brief fields plus that kind's own.

Adding a kind = a prompt template in generation/prompts and one form class here,
registered in BRIEF_FORMS.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core import validators
from django.core.exceptions import ValidationError

from generation.prompts import words_for_tokens
from studio.models import ContentKind
from studio.models.briefs import INSTRUCTIONS_MAX, MAX_VARIANTS, SOURCE_TEXT_MAX, TITLE_MAX

# The longest target the prompt templates accept; the token cap may allow fewer.
TARGET_WORDS_MAX = 4000

_CONTROL = {chr(c) for c in range(32)} - {"\n", "\r", "\t"} | {"\x7f"}


def _no_control_chars(value: str) -> None:
    if any(ch in _CONTROL for ch in value):
        raise ValidationError("Remove control characters from this text.")


class CleanCharField(forms.CharField):
    default_validators = [_no_control_chars]


class CleanTextField(CleanCharField):
    widget = forms.Textarea


class BriefForm(forms.Form):
    """Fields every kind has. Subclasses add theirs to ``extra_fields``."""

    kind: str = ""
    extra_fields: tuple[str, ...] = ()

    title = CleanCharField(max_length=TITLE_MAX)
    instructions = CleanTextField(
        max_length=INSTRUCTIONS_MAX, required=False,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": INSTRUCTIONS_MAX}),
        help_text="What the piece must do. The model follows this most closely.",
    )
    audience = CleanCharField(max_length=300, required=False)
    tone = CleanCharField(max_length=120, required=False)
    keywords = CleanCharField(
        max_length=500, required=False, help_text="Comma-separated."
    )
    target_words = forms.IntegerField(
        min_value=10, max_value=TARGET_WORDS_MAX, required=False, label="Target length (words)"
    )
    variants = forms.IntegerField(
        min_value=1, max_value=MAX_VARIANTS, initial=2,
        help_text=f"How many drafts to write (1–{MAX_VARIANTS}).",
    )
    deadline = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # No longer than a draft can be with this studio's token cap.
        most = min(TARGET_WORDS_MAX, words_for_tokens(settings.GENERATION_MAX_NEW_TOKENS))
        field = self.fields["target_words"]
        assert isinstance(field, forms.IntegerField)
        field.max_value = most
        field.validators = [v for v in field.validators
                            if not isinstance(v, validators.MaxValueValidator)]
        field.validators.append(validators.MaxValueValidator(most))
        field.widget.attrs["max"] = str(most)
        field.help_text = f"Up to {most:,} words (this studio's length cap)."

    def clean_keywords(self) -> list[str]:
        raw = self.cleaned_data.get("keywords") or ""
        return [k.strip() for k in raw.split(",") if k.strip()][:20]

    def to_brief_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["kind"] = self.kind
        data["extra"] = {name: data.pop(name) for name in self.extra_fields if name in data}
        data["extra"] = {k: v for k, v in data["extra"].items() if v not in (None, "")}
        if "source_text" not in data:
            data["source_text"] = ""
        return data


class ArticleForm(BriefForm):
    kind = ContentKind.ARTICLE


class NewsForm(BriefForm):
    kind = ContentKind.NEWS
    extra_fields = ("location",)
    location = CleanCharField(max_length=120, required=False, label="Dateline / location",
                              help_text="Where it happened.")
    source_text = CleanTextField(
        max_length=SOURCE_TEXT_MAX, required=False, label="Facts / press release",
        widget=forms.Textarea(attrs={"rows": 6}),
    )


class AdCopyForm(BriefForm):
    kind = ContentKind.AD_COPY
    extra_fields = ("product", "channel", "call_to_action")
    product = CleanCharField(max_length=200)
    channel = forms.ChoiceField(
        choices=[(c, c) for c in ["Instagram", "Facebook", "Search", "LinkedIn", "TikTok",
                                  "Display", "Email", "Print"]]
    )
    call_to_action = CleanCharField(max_length=120, label="Call to action")


class SummaryForm(BriefForm):
    kind = ContentKind.SUMMARY
    source_text = CleanTextField(
        max_length=SOURCE_TEXT_MAX, label="Source text",
        widget=forms.Textarea(attrs={"rows": 10}), help_text="The text to summarise.",
    )


class OutlineForm(BriefForm):
    kind = ContentKind.OUTLINE
    extra_fields = ("chapters",)
    chapters = forms.IntegerField(min_value=1, max_value=40, initial=8,
                                  label="Number of chapters")


class SocialPostForm(BriefForm):
    kind = ContentKind.SOCIAL_POST
    extra_fields = ("platform",)
    platform = forms.ChoiceField(
        choices=[(c, c) for c in ["Instagram", "LinkedIn", "X", "Facebook", "TikTok"]]
    )


class EmailForm(BriefForm):
    kind = ContentKind.EMAIL
    extra_fields = ("subject_hint",)
    subject_hint = CleanCharField(max_length=200, required=False, label="Subject idea")


class FaqForm(BriefForm):
    kind = ContentKind.FAQ
    extra_fields = ("questions",)
    questions = forms.IntegerField(min_value=1, max_value=30, initial=5,
                                   label="Number of questions")
    source_text = CleanTextField(
        max_length=SOURCE_TEXT_MAX, required=False, label="Reference material",
        widget=forms.Textarea(attrs={"rows": 6}),
    )


BRIEF_FORMS: dict[str, type[BriefForm]] = {
    form.kind: form
    for form in [ArticleForm, NewsForm, AdCopyForm, SummaryForm, OutlineForm, SocialPostForm,
                 EmailForm, FaqForm]
}


def brief_form_for(kind: str) -> type[BriefForm]:
    try:
        return BRIEF_FORMS[kind]
    except KeyError as exc:
        raise ValidationError({"kind": f"Unknown kind {kind!r}."}) from exc
