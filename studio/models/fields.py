"""Model fields for text people type: the studio's input policy (``studio.validators``)
at model level, so ``full_clean`` and the Django admin apply it like the pages and the
API (line breaks become ``\\n``; other control characters are refused)."""

from __future__ import annotations

from typing import Any

from django.db import models

from studio.validators import (
    PlainCharField,
    PlainTextAreaField,
    validate_plain_text,
    validate_plain_texts,
)


class UserCharField(models.CharField):
    default_validators = [validate_plain_text]

    def formfield(self, **kwargs: Any) -> Any:
        return super().formfield(**{"form_class": PlainCharField, **kwargs})


class UserTextField(models.TextField):
    default_validators = [validate_plain_text]

    def formfield(self, **kwargs: Any) -> Any:
        return super().formfield(**{"form_class": PlainTextAreaField, **kwargs})


class UserJSONField(models.JSONField):
    """A list or dict of strings people typed (a brief's keywords, its ``extra``)."""

    default_validators = [validate_plain_texts]
