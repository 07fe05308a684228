"""Human labels for the studio's slugs: ``{{ value|label }}`` everywhere a code would show
(content kinds, brief fields, reject reasons, quality flags, example kinds, statuses).

Known codes come from the registries that define them (the kind templates, the reason
and flag lists), so a new kind or reason has its label with no edit here; an unknown
code is shown as words ("call_to_action" → "Call to action"), never as the raw slug.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from django import template

from generation.prompts import KINDS

register = template.Library()

_SLUG = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+|[a-z][a-z0-9]*")


@cache
def _fixed() -> dict[str, str]:
    from studio.models import Brief, TrainingExample
    from studio.models.reviews import REJECT_REASONS
    from studio.selectors.reviews import FLAG_LABELS

    return {**dict(TrainingExample.Kind.choices), **dict(Brief.Status.choices),
            **FLAG_LABELS, **REJECT_REASONS}


def _labels() -> dict[str, str]:
    # Kinds and their fields are read each time: a kind may be registered later.
    fields = {f.name: f.label for spec in KINDS.values() for f in spec.fields}
    kinds = {spec.name: spec.label for spec in KINDS.values()}
    return {**fields, **_fixed(), **kinds}


@register.filter
def label(value: object) -> str:
    """The human label of a code; words for an unknown slug; other text as it is."""
    text = str(value)
    known = _labels().get(text)
    if known is not None:
        return known
    if _SLUG.fullmatch(text):
        return text.replace("_", " ").capitalize()
    return text


@register.filter
def duration(seconds: object) -> str:
    """Seconds as words: "under a minute", "about 4 min", "1 h 20 min", "2 days 3 h"."""
    try:
        total = int(float(str(seconds)))
    except ValueError:
        return "—"
    if total < 60:
        return "under a minute"
    minutes = round(total / 60)
    if minutes < 60:
        return f"about {minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} day{'s' if days != 1 else ''} {hours} h" if hours else \
        f"{days} day{'s' if days != 1 else ''}"


@register.filter
def any_required(form: object) -> bool:
    """Whether the form has a required visible field (then the page explains the *)."""
    fields: list[Any] = getattr(form, "visible_fields", list)()
    return any(f.field.required for f in fields)
