"""The studio's one policy for text that people type, whatever door it comes in by.

Page forms, htmx posts, the API and the Django admin all apply it:

- Line breaks are ``\\n``. A ``\\r\\n`` or lone ``\\r`` (what browsers send from every
  textarea) becomes ``\\n``; it is never refused.
- Tabs stay.
- Every other control character is refused with a message naming it: C0 (NUL, BEL,
  BS, ESC…), DEL and C1 (U+0080–U+009F). They have no meaning in a brief, a rule or a
  comment, PostgreSQL cannot store NUL in a text column (a 500), and the rest end up in
  prompts and terminals. Refusing, not stripping, means nothing the user typed is
  silently lost.

Form fields (:class:`PlainCharField`), serializer fields (``studio.api.fields``) and
model fields (``validators=[validate_plain_text]``, so ``full_clean`` and the admin)
use these same two functions.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.deconstruct import deconstructible

CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CR = re.compile(r"\r\n?")

_NAMES = {0: "NUL", 7: "BEL", 8: "backspace", 0x1B: "ESC", 0x7F: "DEL"}


def plain_text(value: str) -> str:
    """``value`` with its line breaks as ``\\n``."""
    return _CR.sub("\n", value) if "\r" in value else value


def control_char_message(value: str) -> str | None:
    """The refusal for ``value``, or None when it holds no refused control character."""
    match = CONTROL_CHARS.search(value)
    if match is None:
        return None
    code = ord(match.group())
    name = _NAMES.get(code)
    what = f"U+{code:04X}" + (f" ({name})" if name else "")
    return f"Remove the control character {what} from this text."


def clean_plain_text(value: str, *, field: str) -> str:
    """For code that reads text without a form or serializer (services): ``value``
    with ``\n`` line breaks, or a ValidationError on ``field``."""
    if message := control_char_message(value):
        raise ValidationError({field: message}, code="control_character")
    return plain_text(value)


@deconstructible
class PlainTextValidator:
    """Refuses control characters other than tab and line breaks (see the module)."""

    code = "control_character"

    def __call__(self, value: Any) -> None:
        if isinstance(value, str) and (message := control_char_message(value)):
            raise ValidationError(message, code=self.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlainTextValidator)

    def __hash__(self) -> int:
        return hash(self.code)


validate_plain_text = PlainTextValidator()


def validate_plain_texts(values: Any) -> None:
    """The policy over every string in a list or a dict, keys included (a brief's
    keywords and ``extra``)."""
    if isinstance(values, dict):
        strings = [*values, *values.values()]
    elif isinstance(values, list | tuple):
        strings = list(values)
    else:
        strings = [values]
    for value in strings:
        validate_plain_text(value)


class PlainCharField(forms.CharField):
    """A form's text field under the policy: ``\\r`` becomes ``\\n``, control
    characters are refused."""

    default_validators = [validate_plain_text]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Django's own NUL check says it differently; ours covers NUL too.
        self.validators = [v for v in self.validators
                           if not isinstance(v, ProhibitNullCharactersValidator)]

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return plain_text(value) if isinstance(value, str) else value


class PlainTextAreaField(PlainCharField):
    widget = forms.Textarea
