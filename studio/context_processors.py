from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from studio.models import Membership


def studio(request: HttpRequest) -> dict[str, Any]:
    if not request.user.is_authenticated:
        return {}
    return {
        "current_team": getattr(request, "team", None),
        "current_membership": getattr(request, "membership", None),
        "my_memberships": Membership.objects.filter(user_id=request.user.pk)
        .select_related("team")
        .order_by("team__name"),
    }
