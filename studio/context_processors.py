from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from studio.models import Membership


def studio(request: HttpRequest) -> dict[str, Any]:
    # A request refused before AuthenticationMiddleware (a bad Host header → 400) has no user.
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "current_team": getattr(request, "team", None),
        "current_membership": getattr(request, "membership", None),
        "my_memberships": Membership.objects.filter(user_id=user.pk)
        .select_related("team")
        .order_by("team__name"),
    }
