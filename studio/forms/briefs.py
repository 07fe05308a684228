"""Brief forms, built from the content kind's prompt template.

Each kind's fields (names, labels, help, required, limits, choices) come from its
template in generation/prompts (``KINDS``), so the form and the prompt cannot drift.
Adding a kind = registering a template; a form class is needed only for rules the
template cannot say: subclass :class:`BriefForm` and register it with
:func:`register_brief_form`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.core import validators
from django.core.exceptions import ValidationError

from generation.languages import DEFAULT_LANGUAGE, get_language
from generation.prompts import KINDS, KindField, default_target, words_for_tokens
from studio.models.briefs import INSTRUCTIONS_MAX, MAX_VARIANTS, SOURCE_TEXT_MAX, TITLE_MAX
from studio.validators import PlainCharField, PlainTextAreaField

MAX_KEYWORDS = 20
# Text fields of the template without a max_length of their own.
TEXT_MAX = 500
# Brief columns: never longer than the model allows, whatever a template says.
_COLUMN_MAX = {"title": TITLE_MAX, "instructions": INSTRUCTIONS_MAX,
               "source_text": SOURCE_TEXT_MAX}
# Fields of the template stored in their own Brief column, not in ``extra``.
_COLUMNS = {"title", "instructions", "audience", "tone", "keywords", "target_words",
            "source_text"}

def form_field_for(f: KindField) -> forms.Field:
    """The form field of one template field."""
    common: dict[str, Any] = {"required": f.required, "label": f.label, "help_text": f.help}
    if f.type == "int":
        return forms.IntegerField(min_value=f.min_value, max_value=f.max_value,
                                  initial=f.default, **common)
    if f.type == "choice":
        choices = [(c, c) for c in f.choices]
        if not f.required:
            choices.insert(0, ("", "—"))
        return forms.ChoiceField(choices=choices, initial=f.default, **common)
    limit = f.max_length or _COLUMN_MAX.get(f.name, TEXT_MAX)
    limit = min(limit, _COLUMN_MAX.get(f.name, limit))
    if f.type == "textarea":
        rows = 4 if f.name == "instructions" else 10 if f.required else 6
        return PlainTextAreaField(max_length=limit, initial=f.default,
                              widget=forms.Textarea(attrs={"rows": rows, "maxlength": limit}),
                              **common)
    return PlainCharField(max_length=limit, initial=f.default, **common)


class BriefForm(forms.Form):
    """A kind's brief form: its template's fields, then how many drafts and by when.

    ``kind`` names the template; the fields are built per instance from ``KINDS``, and a
    field a subclass declares itself wins over the template's. ``language`` is the
    project's content language: the target length is in its unit (words, or characters
    for Chinese).
    """

    kind: str = ""
    extra_fields: tuple[str, ...] = ()

    variants = forms.IntegerField(
        min_value=1, max_value=MAX_VARIANTS, initial=2,
        help_text=f"How many drafts to write (1–{MAX_VARIANTS}).",
    )
    deadline = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def __init__(self, *args: Any, language: str = DEFAULT_LANGUAGE, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.language = get_language(language)
        spec = KINDS[self.kind]
        declared = dict(self.fields)
        built = {
            f.name: declared.pop(f.name) if f.name in declared else form_field_for(f)
            for f in spec.fields
        }
        common = [f.name for f in spec.fields if f.name in _COLUMNS - {"source_text"}]
        # The common fields first, then variants and deadline, then the kind's own.
        self.fields = {
            **{name: built.pop(name) for name in common},
            **declared,
            **built,
        }
        self.extra_fields = tuple(
            f.name for f in spec.fields if f.name not in _COLUMNS
        )
        self._cap_target_words()

    def _cap_target_words(self) -> None:
        # No longer than the templates accept, nor than a draft can be with this studio's
        # token cap, in the language's unit.
        language = self.language
        most = min(language.max_target,
                   words_for_tokens(settings.GENERATION_MAX_NEW_TOKENS, language=language.code))
        field = self.fields["target_words"]
        assert isinstance(field, forms.IntegerField)
        field.required = False
        field.initial = None
        field.label = f"Target length ({language.units_label})"
        field.widget.attrs["placeholder"] = str(min(most, default_target(self.kind,
                                                                         language.code)))
        field.max_value = most
        field.validators = [v for v in field.validators
                            if not isinstance(v, validators.MaxValueValidator)]
        field.validators.append(validators.MaxValueValidator(most))
        field.widget.attrs["max"] = str(most)
        # The kind's usual length says more than the cap (ad copy: about 60 words, not
        # "up to 1,161"); the cap is still enforced and shown as the field's max.
        usual = min(most, default_target(self.kind, language.code))
        field.help_text = f"Empty: about {usual:,} {language.units_label}, usual for this kind."

    def clean_keywords(self) -> list[str]:
        raw = self.cleaned_data.get("keywords") or ""
        keywords = [k.strip() for k in re.split(r"[,，、]", raw) if k.strip()]
        if len(keywords) > MAX_KEYWORDS:
            raise ValidationError(f"Give at most {MAX_KEYWORDS} keywords ({len(keywords)} "
                                  "given).")
        return keywords

    def to_brief_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["kind"] = self.kind
        data["extra"] = {name: data.pop(name) for name in self.extra_fields if name in data}
        data["extra"] = {k: v for k, v in data["extra"].items() if v not in (None, "")}
        if "source_text" not in data:
            data["source_text"] = ""
        return data


# Form classes of kinds with rules of their own; every other kind gets a plain BriefForm.
BRIEF_FORMS: dict[str, type[BriefForm]] = {}

_F = TypeVar("_F", bound=type[BriefForm])


def register_brief_form(kind: str) -> Callable[[_F], _F]:
    """Class decorator: use this form (a BriefForm subclass) for ``kind``."""
    def register(form: _F) -> _F:
        form.kind = kind
        BRIEF_FORMS[kind] = form
        return form
    return register


def brief_form_class(kind: str) -> type[BriefForm] | None:
    """The form class of ``kind``, or None when no template has that name."""
    if kind not in KINDS:
        return None
    if kind in BRIEF_FORMS:
        return BRIEF_FORMS[kind]
    return type(f"{kind.title().replace('_', '')}BriefForm", (BriefForm,), {"kind": kind})


def brief_form_for(kind: str) -> type[BriefForm]:
    form = brief_form_class(kind)
    if form is None:
        raise ValidationError({"kind": f"Unknown kind {kind!r}."})
    return form
