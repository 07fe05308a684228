"""REST API URLs (issue 7) in the authorization matrix. Bodies are sent as JSON."""

from __future__ import annotations

from tests.studio.authz.case import ALL, Case, no_kwargs

REVIEWERS = ("admin", "editor")
ADMINS = ("admin",)
# Writes on a draft name the version the client saw (the factory's drafts start at 1).
IF_MATCH = {"If-Match": '"v1"'}


def _project(w):  # type: ignore[no-untyped-def]
    return {"project_id": w.project.pk}


def _brief(w):  # type: ignore[no-untyped-def]
    return {"brief_id": w.brief.pk}


def _queued_job(w):  # type: ignore[no-untyped-def]
    from tests.factories import GenerationJobFactory

    return {"job_id": GenerationJobFactory(brief=w.brief, status="queued").pk}


def _draft(w):  # type: ignore[no-untyped-def]
    return {"draft_id": w.draft.pk}


def _training_job(w):  # type: ignore[no-untyped-def]
    return {"job_id": w.training_job.pk}


def _version(w):  # type: ignore[no-untyped-def]
    return {"version_id": w.version.pk}


def _example(w):  # type: ignore[no-untyped-def]
    from studio.models import TrainingExample

    example = TrainingExample.objects.create(
        project=w.project, kind="sft", content_kind="article",
        prompt=[{"role": "user", "content": "Write."}], completion="Text.",
    )
    return {"example_id": example.pk}


CASES: list[Case] = [
    Case("api:project-list", no_kwargs, ALL, tenant_scoped=False),
    Case("api:project-detail", _project, ALL),
    Case("api:project-detail", _project, ADMINS, method="patch",
         data=lambda w: {"brand_voice": "Plain and kind."}),
    Case("api:project-briefs", _project, ALL),
    Case("api:project-briefs", _project, ALL, method="post",
         data=lambda w: {"kind": "article", "title": "From the matrix", "variants": 1}),
    Case("api:brief-detail", _brief, ALL),
    Case("api:brief-regenerate", _brief, ALL, method="post", ok=(202,)),
    Case("api:generation-job-live", lambda w: {"job_id": w.job.pk}, ALL),
    Case("api:generation-job-cancel", _queued_job, ALL, method="post"),
    Case("api:draft-list", no_kwargs, ALL, tenant_scoped=False),
    Case("api:draft-detail", _draft, ALL),
    Case("api:draft-approve", _draft, REVIEWERS, method="post", headers=IF_MATCH),
    Case("api:draft-approve", _draft, REVIEWERS, method="post", headers=IF_MATCH,
         data=lambda w: {"text": "Edited by the matrix."}),
    Case("api:draft-reject", _draft, REVIEWERS, method="post", headers=IF_MATCH,
         data=lambda w: {"reason_tags": ["tone"]}),
    Case("api:draft-edit", _draft, REVIEWERS, method="post", headers=IF_MATCH,
         data=lambda w: {"text": "A saved edit."}),
    Case("api:draft-ab-pick", _draft, ("admin", "marketer"), method="post",
         data=lambda w: {"picked": True}),
    Case("api:draft-claim", _draft, REVIEWERS, method="post"),
    Case("api:draft-release", _draft, REVIEWERS, method="post"),
    # Team-less URL: a role that reviews in no team gets 403; the outsider (team B's
    # admin) gets 200 with team A's draft reported "not_found" (see test_bulk_review).
    Case("api:draft-bulk-review", no_kwargs, REVIEWERS, method="post", tenant_scoped=False,
         data=lambda w: {"items": [{"draft": w.draft.pk, "action": "approve",
                                    "version": '"v1"'}]}),
    Case("api:draft-bulk-review", no_kwargs, REVIEWERS, method="post", tenant_scoped=False,
         data=lambda w: {"items": [{"draft": w.draft.pk, "action": "reject", "version": 1,
                                    "reason_tags": ["tone"]}]}),
    # Training data, jobs and model versions: admins only, as on the training pages.
    Case("api:project-training-examples", _project, ADMINS),
    Case("api:project-training-export", _project, ADMINS),
    Case("api:training-example-exclude", _example, ADMINS, method="post",
         data=lambda w: {"excluded": True}),
    Case("api:project-training-jobs", _project, ADMINS),
    # Too few examples: 400 with the reason, nothing queued.
    Case("api:project-training-jobs", _project, ADMINS, method="post",
         data=lambda w: {"method": "sft"}, ok=(400,)),
    Case("api:training-job-detail", _training_job, ADMINS),
    # world.training_job has ended: 409, nothing changes.
    Case("api:training-job-cancel", _training_job, ADMINS, method="post", ok=(409,)),
    Case("api:project-model-versions", _project, ADMINS),
    Case("api:project-edit-cost", _project, ADMINS),
    # A JSON body where a file is expected: 415 once the caller may import.
    Case("api:project-training-import", _project, ADMINS, method="post", ok=(415,)),
    # world.version has no adapter (promote) and is not archived (rollback): 409.
    Case("api:model-version-promote", _version, ADMINS, method="post", ok=(409,)),
    Case("api:model-version-rollback", _version, ADMINS, method="post", ok=(409,)),
    # ... and nothing to check: 409.
    Case("api:model-version-check", _version, ADMINS, method="post", ok=(409,)),
    # world.project serves its base model already: 409, nothing changes.
    Case("api:model-version-use-base", _project, ADMINS, method="post", ok=(409,)),
]
