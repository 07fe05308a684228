"""A model version's training snapshot can be rebuilt with the same content hash."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generation.training import SnapshotIntegrityError, load_snapshot
from studio.models import DatasetSnapshot, ModelVersion, TrainingExample, TrainingJob
from studio.services import training as svc
from studio.services.reviews import review_approve, review_reject
from studio.tasks.training import run_training_job
from tests.conftest import World
from tests.factories import DraftFactory, GenerationJobFactory
from tests.studio.training.conftest import FAST, add_examples

pytestmark = pytest.mark.django_db


def _freeze(world: World) -> DatasetSnapshot:
    add_examples(world.project, 12)
    add_examples(world.project, 4, kind=TrainingExample.Kind.PREFERENCE, start=40)
    # A rejected variant paired with the approved one of the same prompt.
    job = GenerationJobFactory(brief=world.brief)
    good = DraftFactory(job=job, variant=0, text="Bold roast, warm cup.")
    bad = DraftFactory(job=job, variant=1, text="roast lol")
    review_approve(user=world.editor, draft_id=good.pk, version=good.version)
    review_reject(user=world.editor, draft_id=bad.pk, version=bad.version, reason_tags=["tone"])
    _, row = svc.snapshot_freeze(project=world.project)
    return row


def test_it_keeps_the_ids_of_the_examples_a_snapshot_was_built_from(world: World) -> None:
    row = _freeze(world)
    ids = list(TrainingExample.objects.filter(project=world.project).order_by("pk")
               .values_list("pk", flat=True))
    row.refresh_from_db()
    assert row.example_ids == ids


def test_it_rebuilds_the_same_hash_after_new_approvals_and_exclusions(world: World) -> None:
    row = _freeze(world)
    original = load_snapshot(row.path)
    add_examples(world.project, 5, start=100)  # approved since
    in_snapshot = TrainingExample.objects.filter(pk__in=row.example_ids, kind="sft").first()
    assert in_snapshot is not None
    svc.example_set_excluded(user=world.admin, example_id=in_snapshot.pk, excluded=True)
    assert svc.snapshot_build(project=world.project).content_hash != row.content_hash

    rebuilt = svc.snapshot_rebuild(row)
    assert rebuilt.content_hash == row.content_hash == original.content_hash
    assert rebuilt == original
    # The excluded example is still in the old snapshot's rebuild, by design: it froze
    # the examples as they were when it was made.
    assert any(ex.completion == in_snapshot.completion for ex in rebuilt.sft_train
               + rebuilt.sft_eval)


def test_it_refuses_clearly_when_an_example_was_deleted(world: World) -> None:
    row = _freeze(world)
    gone = row.example_ids[3]
    TrainingExample.objects.filter(pk=gone).delete()
    with pytest.raises(SnapshotIntegrityError) as exc:
        svc.snapshot_rebuild(row)
    message = str(exc.value)
    assert "1 of its" in message and "were deleted" in message and f"(ids {gone})" in message
    assert "Start a new training job" in message


def test_it_refuses_a_rebuild_whose_content_changed_or_that_kept_no_ids(world: World) -> None:
    row = _freeze(world)
    TrainingExample.objects.filter(pk=row.example_ids[0]).update(completion="Edited later.")
    with pytest.raises(SnapshotIntegrityError, match="now give content hash"):
        svc.snapshot_rebuild(row)
    DatasetSnapshot.objects.filter(pk=row.pk).update(example_ids=None)
    row.refresh_from_db()
    with pytest.raises(SnapshotIntegrityError, match="before snapshots kept their example ids"):
        svc.snapshot_rebuild(row)


def test_it_never_rebuilds_from_another_projects_rows(world: World) -> None:
    row = _freeze(world)
    foreign = add_examples(world.other_project, 1, text="CANARY-BETA")[0]
    DatasetSnapshot.objects.filter(pk=row.pk).update(example_ids=[*row.example_ids, foreign.pk])
    row.refresh_from_db()
    with pytest.raises(SnapshotIntegrityError, match="were deleted"):
        svc.snapshot_rebuild(row)


def test_it_writes_a_missing_snapshot_folder_again_for_the_job(world: World) -> None:
    add_examples(world.project, 12)
    job = svc.training_job_start(user=world.admin, project_id=world.project.pk)
    assert job.snapshot is not None
    folder = Path(job.snapshot.path)
    first, rebuilt = svc.training_job_snapshot(job_id=job.pk)
    assert not rebuilt
    shutil.rmtree(folder)
    add_examples(world.project, 3, start=50)
    again, rebuilt = svc.training_job_snapshot(job_id=job.pk)
    assert rebuilt and again == first
    assert load_snapshot(folder).content_hash == job.snapshot.content_hash
    # One file gone: rebuilt too, the partial folder kept aside.
    (folder / "sft_eval.jsonl").unlink()
    assert svc.training_job_snapshot(job_id=job.pk)[1]
    assert len(list(folder.parent.glob(f"{folder.name}.partial-*"))) == 1


def test_it_fails_a_job_whose_snapshot_is_gone_and_cannot_be_rebuilt(world: World) -> None:
    add_examples(world.project, 12)
    job = svc.training_job_start(user=world.admin, project_id=world.project.pk)
    assert job.snapshot is not None
    shutil.rmtree(job.snapshot.path)
    TrainingExample.objects.filter(pk=job.snapshot.example_ids[0]).delete()
    assert run_training_job.apply(args=[job.pk]).get() == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and "were deleted" in job.error


def test_a_retried_job_trains_on_its_rebuilt_snapshot(world: World, tiny_model_dir: Path) -> None:
    world.project.base_model = f"local:{tiny_model_dir}"
    world.project.save()
    add_examples(world.project, 14)
    job = svc.training_job_start(user=world.admin, project_id=world.project.pk, overrides=FAST)
    assert job.snapshot is not None
    # The first run died and the snapshot folder was lost with its disk.
    TrainingJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=None,
                                                 attempts=1)
    shutil.rmtree(job.snapshot.path)
    outcome = run_training_job.apply(args=[job.pk]).get()
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert outcome.startswith("registered v")
    assert "rebuilt from its examples" in job.log_tail
    assert ModelVersion.objects.get(training_job=job).snapshot == job.snapshot
    assert load_snapshot(job.snapshot.path).content_hash == job.snapshot.content_hash
