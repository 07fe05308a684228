from __future__ import annotations

from tests.studio.authz.case import ALL, Case


def _queued_job(w):  # type: ignore[no-untyped-def]
    from tests.factories import GenerationJobFactory

    return {"job_id": GenerationJobFactory(brief=w.brief, status="queued").pk}


CASES: list[Case] = [
    Case("brief_status", lambda w: {"brief_id": w.brief.pk}, ALL),
    Case("brief_status", lambda w: {"brief_id": w.brief.pk}, ALL,
         headers={"HX-Request": "true"}),
    Case("brief_regenerate", lambda w: {"brief_id": w.brief.pk}, ALL, method="post"),
    Case("generation_job_cancel", _queued_job, ALL, method="post"),
    Case("generation_job_cancel", _queued_job, ALL, method="post",
         headers={"HX-Request": "true"}),
]
