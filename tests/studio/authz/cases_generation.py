from __future__ import annotations

from tests.studio.authz.case import ALL, Case

CASES: list[Case] = [
    Case("brief_status", lambda w: {"brief_id": w.brief.pk}, ALL),
    Case("brief_status", lambda w: {"brief_id": w.brief.pk}, ALL,
         headers={"HX-Request": "true"}),
    Case("brief_regenerate", lambda w: {"brief_id": w.brief.pk}, ALL, method="post"),
]
