from __future__ import annotations

from tests.studio.authz.case import Case

ADMIN = ("admin",)


def _project(w):  # type: ignore[no-untyped-def]
    return {"project_id": w.project.pk}


def _example(w):  # type: ignore[no-untyped-def]
    from studio.models import TrainingExample

    example = TrainingExample.objects.create(
        project=w.project, kind="sft", content_kind="ad_copy",
        prompt=[{"role": "user", "content": "Write."}], completion="Text.",
    )
    return {"example_id": example.pk}


def _note(w):  # type: ignore[no-untyped-def]
    from studio.models import PreferenceNote

    note = PreferenceNote.objects.create(
        project=w.project, kind="delete", proposed_before="truly", before="truly",
        status="accepted",
    )
    return {"note_id": note.pk}


CASES: list[Case] = [
    Case("training_home", _project, ADMIN),
    # Too few examples: a clear message and a redirect, nothing queued.
    Case("training_start", _project, ADMIN, method="post", data=lambda w: {"method": "sft"}),
    Case("training_examples", _project, ADMIN),
    Case("training_examples", _project, ADMIN, headers={"HX-Request": "true"}),
    Case("training_export", _project, ADMIN),
    # No file: a message and a redirect, nothing imported.
    Case("training_import", _project, ADMIN, method="post"),
    Case("training_example_exclude", _example, ADMIN, method="post",
         data=lambda w: {"excluded": "1"}),
    Case("preference_notes", _project, ADMIN),
    # No such proposal: a message and a redirect, nothing saved.
    Case("preference_note_decide", _project, ADMIN, method="post",
         data=lambda w: {"decision": "accept", "kind": "delete", "proposed_before": "x"}),
    Case("preference_note_update", _note, ADMIN, method="post",
         data=lambda w: {"decision": "dismiss"}),
    Case("training_job", lambda w: {"job_id": w.training_job.pk}, ADMIN),
    Case("training_job", lambda w: {"job_id": w.training_job.pk}, ADMIN,
         headers={"HX-Request": "true"}),
    Case("training_job_chart", lambda w: {"job_id": w.training_job.pk}, ADMIN),
    Case("training_job_cancel", lambda w: {"job_id": w.training_job.pk}, ADMIN, method="post"),
    Case("model_versions", _project, ADMIN),
    # world.version has no adapter: refused with a message, the live model unchanged.
    Case("model_promote", lambda w: {"version_id": w.version.pk}, ADMIN, method="post"),
    Case("model_rollback", lambda w: {"version_id": w.version.pk}, ADMIN, method="post"),
    Case("model_check", lambda w: {"version_id": w.version.pk}, ADMIN, method="post"),
    # world.project serves its base model already: refused with a message, a redirect.
    Case("model_use_base", _project, ADMIN, method="post"),
    Case("model_use_base", _project, ADMIN, method="post", headers={"HX-Request": "true"}),
]
