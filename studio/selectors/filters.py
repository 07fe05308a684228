"""List filters, each defined once and read by the page and the API alike.

A list declares its query parameters as ``FilterField`` allowlists on a ``Filters``
dataclass. The page parses with ``from_query`` (a value not allowed is left out, free
text is trimmed and cut to its length); the API's serializers make their fields from
the same definitions (``studio.api.serializers.filter_serializer``) and answer 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self
from urllib.parse import urlencode


@dataclass(frozen=True)
class FilterField:
    """One query parameter: ``choices`` (read each time they are needed, so a kind
    registered later counts; values or (value, label) pairs), a ``pattern`` the whole
    value matches, or free text up to ``max_length`` characters."""

    name: str
    choices: Callable[[], Sequence[Any]] | None = None
    pattern: str | None = None
    max_length: int | None = None
    help: str = ""

    def allowed(self) -> list[str]:
        assert self.choices is not None
        return [c[0] if isinstance(c, tuple) else c for c in self.choices()]

    def clean(self, value: object) -> str:
        """``value`` when it is allowed, otherwise ""."""
        if not isinstance(value, str) or not (value := value.strip()):
            return ""
        if self.choices is not None:
            return value if value in self.allowed() else ""
        if self.pattern is not None:
            return value if re.fullmatch(f"({self.pattern})", value) else ""
        return value[: self.max_length]


@dataclass(frozen=True)
class Filters:
    """Base of a list's filters: subclasses are frozen dataclasses of str fields, one
    per ``FIELDS`` entry."""

    FIELDS: ClassVar[tuple[FilterField, ...]] = ()

    @classmethod
    def from_query(cls, params: Mapping[str, Any]) -> Self:
        return cls(**{f.name: f.clean(params.get(f.name, "")) for f in cls.FIELDS})

    def items(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}

    @property
    def querystring(self) -> str:
        return urlencode(self.items())

    @property
    def active(self) -> bool:
        return bool(self.items())


def filter_field(fields: Sequence[FilterField], name: str) -> FilterField:
    return next(f for f in fields if f.name == name)


# Shared by the lists that search, order and page (the review queue, the brief desk). -

ORDER_CHOICES: dict[str, str] = {
    "deadline": "Soonest deadline first",
    "newest": "Newest first",
    "oldest": "Oldest first",
}
PAGE_SIZES: tuple[str, ...] = ("25", "50", "100")


def search_field(what: str) -> FilterField:
    """``q``: words to find. English and other spaced scripts: every word, as a prefix;
    Chinese, Japanese, Korean: the text as typed (see ``selectors.search``)."""
    return FilterField("q", max_length=100, help=f"Words to find in {what}.")


def order_field(default: str) -> FilterField:
    return FilterField("order", choices=lambda: list(ORDER_CHOICES.items()),
                       help=f"'deadline', 'newest' or 'oldest' (default '{default}').")


SIZE_FIELD = FilterField("size", choices=lambda: list(PAGE_SIZES),
                         help="Rows a page: 25, 50 or 100.")


def page_size(value: str, default: int) -> int:
    return int(value) if value in PAGE_SIZES else default
