"""The row type of the authorization matrix (see tests/studio/test_authorization_matrix.py).

Each part of the site lists its URLs in a ``cases_<part>.py`` module beside this one as
``CASES: list[Case]``; the matrix test collects every such module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import World

ALL = ("admin", "editor", "marketer")


@dataclass(frozen=True)
class Case:
    name: str
    kwargs: Callable[[World], dict[str, Any]]
    allowed: tuple[str, ...]
    method: str = "get"
    data: Callable[[World], dict[str, Any]] = field(default=lambda w: {})
    # Whether the URL names a row of team A (outsider → 404); False for team-less pages.
    tenant_scoped: bool = True
    # Extra request headers, e.g. {"HX-Request": "true"} for htmx fragments.
    headers: dict[str, str] = field(default_factory=dict)
    # Success codes for allowed roles.
    ok: tuple[int, ...] = (200, 201, 204, 302)


def no_kwargs(w: World) -> dict[str, Any]:
    return {}
