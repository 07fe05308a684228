"""How a service's refusal reads on a page: one message, or errors on the form.

The API's counterpart is ``studio.api.base.api_exception_handler``.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from studio.services.errors import StudioError


def error_text(exc: ValidationError | StudioError) -> str:
    """Every message of a refusal or an invalid input, as one line for a flash message."""
    return " ".join(str(m) for m in exc.messages)


def form_add_error(form: forms.BaseForm, exc: ValidationError | StudioError) -> None:
    """Put a refusal next to the field it is about (on the form when none is named)."""
    if isinstance(exc, StudioError):
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return
    form.add_error(None, list(exc.messages))
