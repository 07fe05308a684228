"""Training data, retraining jobs and model versions: every write of issue 6.

* Examples: admins exclude or include a project's training examples; excluded ones
  never reach a snapshot.
* Snapshots: :func:`snapshot_freeze` freezes the project's examples into a content-hashed
  snapshot (``generation.training.build_snapshot``) and keeps the ids of the examples it
  was built from, so :func:`snapshot_rebuild` can build it again, to the same hash,
  whatever was approved or excluded since (TrainingExample rows are never edited except
  for ``excluded``, which a rebuild ignores: the snapshot froze the examples it took).
* Jobs: :func:`training_job_start` freezes a snapshot, records the base model the job
  trains on, refuses too little data or a second active job, and enqueues
  ``run_training_job`` on commit. The task claims the job with a
  conditional UPDATE (``queued``, or ``running`` with a stale heartbeat), so a duplicate
  delivery does nothing and a job whose worker died is picked up again and resumes from
  its output folder's last complete checkpoint; a snapshot folder that went missing is
  rebuilt from its examples (:func:`training_job_snapshot`), an edited one refused.
* Versions: a finished job registers a ModelVersion with the job's base model and its
  revision; :func:`model_promote` and :func:`model_rollback` switch the live version
  atomically (project row locked), after checking the adapter files are there and still
  have their recorded sha256; :func:`model_use_base` takes the live version off, so the
  project serves its plain base model again.
* Load checks: promote (and auto-promote) switches only to a version whose adapter the
  serving loader has loaded and written a few tokens with
  (``generation.engine.Engine.check_adapter``). The web process cannot run that check
  (it never imports torch), and waiting in a web request for a busy generation worker
  would make promote time out at random, so the check runs where the model lives and
  its outcome is recorded on the version (``load_check``, with the error, the libraries
  and where it ran): the training task checks the adapter it just trained before it
  registers the version (a failed check is never auto-promoted); an admin can ask for
  the check again (:func:`model_version_check_request`, run by a generation worker with
  its own engine: for versions made before checks existed, or after a library
  upgrade); and a generation worker that cannot load a version marks its check failed
  (:func:`model_version_load_failed`). Promote refuses a version whose check is missing,
  running or failed, with the reason; roll back refuses one whose check failed (a
  version that served before and was never checked may go back live: it is the way
  out when the live one breaks), and "use the base model" is always there.
* Checksums: :func:`adapter_checksums_upgrade` re-records versions whose sha256 is a
  legacy checksum of the weights alone (see ``generation.adapters``), only while the
  weights still match it (``manage.py adapter_checksums_upgrade``).

No torch here: only the data side of ``generation.training`` is imported.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Iterable, Iterator
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from generation.adapters import adapter_sha256_upgrade, check_adapter_dir, verify_adapter_sha256
from generation.errors import AdapterChecksumError, AdapterError, GenerationError
from generation.models import model_revision
from generation.training import (
    MIN_PREFERENCE_EXAMPLES,
    InvalidExample,
    NotEnoughExamples,
    PreferenceExample,
    SFTExample,
    Snapshot,
    SnapshotIntegrityError,
    TrainConfig,
    build_snapshot,
    load_snapshot,
)
from generation.training.data import prompt_key
from generation.training.snapshot import FILES as SNAPSHOT_FILES
from generation.training.snapshot import MANIFEST as SNAPSHOT_MANIFEST
from studio.models import (
    DatasetSnapshot,
    ModelVersion,
    Project,
    TrainingExample,
    TrainingJob,
)
from studio.permissions import Need, project_for_user, training_job_for_user, version_for_user
from studio.services.audit import audit_record
from studio.services.claims import Claim, stale_before
from studio.services.webhooks import webhook_training_finished

logger = logging.getLogger(__name__)

ACTIVE = (TrainingJob.Status.QUEUED, TrainingJob.Status.RUNNING)
# Claims of one job before it is marked failed: each dead worker counts as one.
MAX_ATTEMPTS = 3
LOG_TAIL_CHARS = 8000
EVAL_FRACTION = 0.1


# --- Examples ----------------------------------------------------------------------


def example_set_excluded(*, user: Any, example_id: object, excluded: bool) -> TrainingExample:
    """Exclude an example from training (or include it again)."""
    try:
        project_id = TrainingExample.objects.values_list("project_id", flat=True).get(
            pk=int(str(example_id))
        )
    except (ValueError, TypeError, TrainingExample.DoesNotExist) as exc:
        raise Http404("Not found") from exc
    project = project_for_user(user, project_id, need=Need.ADMIN)
    with transaction.atomic():
        example = TrainingExample.objects.select_for_update().get(pk=int(str(example_id)))
        if example.excluded != excluded:
            example.excluded = excluded
            example.save(update_fields=["excluded"])
            audit_record(actor=user, team=project.team,
                         verb="example.exclude" if excluded else "example.include",
                         obj=example, before={"excluded": not excluded},
                         after={"excluded": excluded})
    return example


def training_examples(project: Project) -> Any:
    """The project's examples that go into training (never another project's)."""
    return TrainingExample.objects.filter(project=project, excluded=False)


def dataset_examples(project: Project) -> tuple[list[SFTExample], list[PreferenceExample]]:
    """The project's non-excluded examples as the library's dataclasses."""
    return examples_as_dataset(training_examples(project))


def examples_as_dataset(
    examples: QuerySet[TrainingExample],
) -> tuple[list[SFTExample], list[PreferenceExample]]:
    """Training examples (one project's, excluded ones already left out) as SFT examples
    and preference pairs, in a fixed order.

    * An approved text is an SFT example.
    * An edited draft is a preference pair: the editor's text over the model's draft.
    * A rejected draft is a preference pair with each approved text of the same prompt
      (the approved text chosen, the rejected draft rejected): both answer exactly the
      same input, and an editor took one and refused the other. Prompts are compared
      as stored (scrubbed, brand voice and brief included), within one project. A
      rejected draft whose prompt has no approved text teaches nothing (there is no
      negative-only objective) and is left out.

    A malformed row is skipped and logged.
    """
    sft, pref, _ = _dataset_from_rows(
        examples.order_by("pk").values_list(*_ROW_FIELDS).iterator()
    )
    return sft, pref


# What a dataset is built from: one tuple per TrainingExample row.
_ROW_FIELDS = ("pk", "project_id", "kind", "prompt", "completion", "rejected_completion")


def _dataset_from_rows(
    rows: Iterable[tuple[Any, ...]],
) -> tuple[list[SFTExample], list[PreferenceExample], list[int]]:
    """:func:`examples_as_dataset` over rows (``_ROW_FIELDS``, ascending pk), plus the
    ids of every row read: a snapshot's example ids, skipped rows included, so a rebuild
    reads exactly the same rows."""
    sft: list[SFTExample] = []
    pref: list[PreferenceExample] = []
    # Approved texts by (project, prompt): a pair never spans projects, whatever the
    # caller's query holds.
    approved: dict[tuple[int, str], list[str]] = {}
    negatives: list[tuple[int, int, Any, str]] = []
    ids: list[int] = []
    for pk, project_id, kind, prompt, completion, rejected in rows:
        ids.append(pk)
        try:
            if kind == TrainingExample.Kind.SFT:
                example = SFTExample(prompt or [], completion)
                sft.append(example)
                texts = approved.setdefault((project_id, prompt_key(example.messages)), [])
                if completion not in texts:
                    texts.append(completion)
            elif kind == TrainingExample.Kind.PREFERENCE:
                pref.append(PreferenceExample(prompt or [], completion, rejected))
            elif kind == TrainingExample.Kind.NEGATIVE:
                negatives.append((pk, project_id, prompt, rejected))
        except (InvalidExample, AttributeError, TypeError) as exc:
            logger.warning("training example %s skipped: %s", pk, exc)
    seen = {example.example_id for example in pref}
    for pk, project_id, prompt, rejected in negatives:
        try:
            for chosen in approved.get((project_id, prompt_key(prompt or [])), []):
                if chosen == rejected:
                    continue  # a rejected variant worded exactly like an approved one
                pair = PreferenceExample(prompt or [], chosen, rejected)
                if pair.example_id not in seen:
                    seen.add(pair.example_id)
                    pref.append(pair)
        except (InvalidExample, AttributeError, TypeError) as exc:
            logger.warning("training example %s skipped: %s", pk, exc)
    return sft, pref, ids


def snapshot_path(project_id: int, content_hash: str) -> Path:
    return Path(settings.DATASET_DIR) / str(project_id) / content_hash


def snapshot_freeze(*, project: Project) -> tuple[Snapshot, DatasetSnapshot]:
    """Freeze the project's examples into a snapshot folder and its row (idempotent:
    the same examples give the same hash, folder and row)."""
    snapshot, example_ids = _snapshot_of(training_examples(project))
    return snapshot, snapshot_store(project=project, snapshot=snapshot,
                                    example_ids=example_ids)


def snapshot_build(*, project: Project) -> Snapshot:
    """The project's examples as a snapshot in memory (nothing written yet)."""
    return _snapshot_of(training_examples(project))[0]


def _snapshot_of(examples: QuerySet[TrainingExample]) -> tuple[Snapshot, list[int]]:
    rows = examples.order_by("pk").values_list(*_ROW_FIELDS).iterator()
    return _snapshot_from_rows(rows)


def _snapshot_from_rows(rows: Iterable[tuple[Any, ...]]) -> tuple[Snapshot, list[int]]:
    sft, pref, ids = _dataset_from_rows(rows)
    return build_snapshot(sft, pref, eval_fraction=EVAL_FRACTION, seed=0), ids


def snapshot_store(
    *, project: Project, snapshot: Snapshot, example_ids: list[int]
) -> DatasetSnapshot:
    """Write the snapshot's files (atomically) and its row with the ids of the examples
    it was built from; idempotent per content hash (the first row's ids are kept: any
    set of rows with that hash rebuilds the same content)."""
    path = snapshot.write(snapshot_path(project.pk, snapshot.content_hash))
    row, created = DatasetSnapshot.objects.get_or_create(
        project=project,
        content_hash=snapshot.content_hash,
        defaults={"counts": snapshot.counts, "path": str(path), "example_ids": example_ids},
    )
    if not created and row.example_ids is None:
        # A snapshot made before ids were kept becomes rebuildable.
        DatasetSnapshot.objects.filter(pk=row.pk, example_ids__isnull=True).update(
            example_ids=example_ids
        )
        row.example_ids = example_ids
    return row


# Ids per query when a snapshot is rebuilt: well under SQLite's bound-parameter limit.
REBUILD_CHUNK = 5000


def _rows_by_ids(project_id: int, ids: list[int]) -> Iterator[tuple[Any, ...]]:
    """The project's example rows with these ids (ascending), ascending pk."""
    for start in range(0, len(ids), REBUILD_CHUNK):
        chunk = ids[start:start + REBUILD_CHUNK]
        yield from (TrainingExample.objects.filter(project_id=project_id, pk__in=chunk)
                    .order_by("pk").values_list(*_ROW_FIELDS).iterator())


def snapshot_rebuild(snapshot: DatasetSnapshot) -> Snapshot:
    """Build ``snapshot`` again in memory from exactly the examples it was made of.

    Examples excluded or added since change nothing (``excluded`` is not read: the
    snapshot froze the examples it took). Raises SnapshotIntegrityError, saying what
    to do, when the snapshot kept no example ids (made before they were kept), when an
    example was deleted, or when the rebuilt content does not give the recorded hash.
    """
    name = snapshot.content_hash[:12]
    if snapshot.example_ids is None:
        raise SnapshotIntegrityError(
            f"Snapshot {name} cannot be rebuilt: it was made before snapshots kept their "
            "example ids. Start a new training job (it freezes a new snapshot)."
        )
    wanted = sorted({int(i) for i in snapshot.example_ids})
    rows = list(_rows_by_ids(snapshot.project_id, wanted))
    found = {row[0] for row in rows}
    missing = [i for i in wanted if i not in found]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (", …" if len(missing) > 10 else "")
        raise SnapshotIntegrityError(
            f"Snapshot {name} cannot be rebuilt: {len(missing)} of its {len(wanted)} "
            f"training examples were deleted (ids {shown}). Start a new training job on "
            "the project's current examples."
        )
    rebuilt, _ = _snapshot_from_rows(rows)
    if rebuilt.content_hash != snapshot.content_hash:
        raise SnapshotIntegrityError(
            f"Snapshot {name} cannot be rebuilt: its {len(wanted)} examples now give "
            f"content hash {rebuilt.content_hash[:12]} (an example's text was changed "
            "outside the studio). Start a new training job on the current examples."
        )
    return rebuilt


def snapshot_files(snapshot: DatasetSnapshot) -> tuple[Snapshot, bool]:
    """The snapshot as the trainer reads it, and whether it had to be rebuilt.

    Read from its folder, verified against its manifest and content hash. When the
    folder or one of its files is gone (a cleanup, a lost disk, a worker on another
    machine) it is rebuilt with :func:`snapshot_rebuild` and written again, a partial
    folder kept aside. A file that is there but does not match the manifest (edited or
    truncated) is not papered over: SnapshotIntegrityError, as when it cannot be rebuilt.
    """
    path = (Path(snapshot.path) if snapshot.path
            else snapshot_path(snapshot.project_id, snapshot.content_hash))
    names = [SNAPSHOT_MANIFEST, *SNAPSHOT_FILES.values()]
    if all((path / name).is_file() for name in names):
        loaded = load_snapshot(path)
        if loaded.content_hash != snapshot.content_hash:
            raise SnapshotIntegrityError(
                f"{path} holds snapshot {loaded.content_hash[:12]}, not "
                f"{snapshot.content_hash[:12]}."
            )
        return loaded, False
    logger.warning("snapshot %s missing at %s; rebuilding it from its examples",
                   snapshot.content_hash[:12], path)
    rebuilt = snapshot_rebuild(snapshot)
    if path.exists():
        path.rename(path.with_name(f"{path.name}.partial-{uuid.uuid4().hex[:8]}"))
    rebuilt.write(path)
    return rebuilt, True


# --- Jobs --------------------------------------------------------------------------


def _busy_message(job_id: int) -> str:
    return (f"Training job #{job_id} is already queued or running for this project; "
            "wait for it to finish or cancel it before starting another.")


def _config_for(snapshot: Snapshot, method: str, overrides: dict[str, Any]) -> TrainConfig:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValidationError(f"Unknown training settings: {', '.join(unknown)}")
    values = dict(overrides)
    if method == TrainingJob.Method.SFT:
        values["dpo"] = False
    else:
        values.setdefault("dpo", True)
    try:
        return TrainConfig.for_dataset(
            len(snapshot.sft_train), n_preference=len(snapshot.preference_train), **values
        )
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"Invalid training settings: {exc}") from exc


def _check_enough(snapshot: Snapshot, config: TrainConfig) -> None:
    have = len(snapshot.sft_train)
    if have < config.min_examples:
        raise ValidationError(str(NotEnoughExamples(have, config.min_examples)))
    if config.dpo and len(snapshot.preference_train) < config.dpo_min_examples:
        raise ValidationError(str(NotEnoughExamples(
            len(snapshot.preference_train), config.dpo_min_examples,
            kind="preference (edited or rejected draft)",
        )) + " Or train with LoRA SFT only.")


def _job_create(
    *, project: Project, user: Any, method: str, overrides: dict[str, Any], auto: bool
) -> TrainingJob:
    if method not in TrainingJob.Method.values:
        raise ValidationError(f"Unknown training method {method!r}.")
    active = TrainingJob.objects.filter(project=project, status__in=ACTIVE).first()
    if active is not None:
        raise ValidationError(_busy_message(active.pk))
    # Refuse too little data before anything is written.
    snapshot, example_ids = _snapshot_of(training_examples(project))
    config = _config_for(snapshot, method, overrides)
    _check_enough(snapshot, config)
    snapshot_row = snapshot_store(project=project, snapshot=snapshot,
                                  example_ids=example_ids)
    base_model = project.base_model or settings.DEFAULT_BASE_MODEL
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        try:
            with transaction.atomic():
                job = TrainingJob.objects.create(
                    project=project, requested_by=user, method=method,
                    base_model=base_model, hyperparameters=config.to_dict(),
                    snapshot=snapshot_row, total_steps=0,
                )
        except IntegrityError as exc:
            # The one-active-job constraint: another start won the race.
            active = TrainingJob.objects.filter(project=project, status__in=ACTIVE).first()
            raise ValidationError(_busy_message(active.pk if active else 0)) from exc
        job.checkpoint_path = str(Path(settings.ADAPTER_DIR) / str(project.pk) / f"job-{job.pk}")
        job.save(update_fields=["checkpoint_path"])
        audit_record(actor=user, team=project.team, verb="training.start", obj=job,
                     after={"method": method, "snapshot": snapshot.content_hash,
                            "counts": snapshot.counts, "base_model": base_model,
                            "auto": auto})
        transaction.on_commit(lambda: training_job_send(job.pk))
    return job


def training_job_start(
    *, user: Any, project_id: object, method: str = TrainingJob.Method.SFT,
    overrides: dict[str, Any] | None = None,
) -> TrainingJob:
    """Snapshot the project's examples and queue a retraining job.

    Raises ValidationError (the message says what is missing) when there are too few
    examples, when another job of the project is queued or running, or on bad settings.
    """
    project = project_for_user(user, project_id, need=Need.ADMIN)
    return _job_create(project=project, user=user, method=method,
                       overrides=dict(overrides or {}), auto=False)


def training_job_send(job_id: int) -> bool:
    """Publish the job's task (on commit). A broker outage leaves the job queued for
    the reconciler."""
    from studio.tasks.training import run_training_job

    try:
        run_training_job.apply_async(args=[job_id], retry=False)
    except Exception:  # noqa: BLE001 - any broker error: the reconciler re-sends
        logger.warning("Broker unreachable; training job %s stays queued", job_id)
        return False
    TrainingJob.objects.filter(pk=job_id).update(sent_at=timezone.now())
    return True


def training_job_cancel(*, user: Any, job_id: object) -> TrainingJob:
    """Cancel a queued job at once; ask a running one to stop at its next step."""
    job = training_job_for_user(user, job_id, need=Need.ADMIN)
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update().select_related("project__team").get(
            pk=job.pk
        )
        before = {"status": job.status}
        if job.status == TrainingJob.Status.QUEUED:
            job.status = TrainingJob.Status.CANCELLED
            job.finished_at = timezone.now()
        elif job.status == TrainingJob.Status.RUNNING:
            job.cancel_requested = True
        else:
            raise ValidationError(f"Job #{job.pk} has already ended ({job.get_status_display()}).")
        job.save(update_fields=["status", "finished_at", "cancel_requested"])
        audit_record(actor=user, team=job.project.team, verb="training.cancel", obj=job,
                     before=before, after={"status": job.status, "cancel_requested": True})
        if job.status == TrainingJob.Status.CANCELLED:
            webhook_training_finished(job_id=job.pk)
    return job


def _stale_before() -> Any:
    return stale_before(settings.TRAINING_STUCK_AFTER)


def training_job_claim(*, job_id: int) -> Claim | None:
    """Take the job for this run: queued, or running with a stale heartbeat (its worker
    died). None when another run has it or it has ended."""
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = TrainingJob.objects.filter(pk=job_id, cancel_requested=False).filter(
        Q(status=TrainingJob.Status.QUEUED)
        | Q(status=TrainingJob.Status.RUNNING, heartbeat_at__lt=_stale_before())
        | Q(status=TrainingJob.Status.RUNNING, heartbeat_at__isnull=True)
    ).update(status=TrainingJob.Status.RUNNING, attempts=F("attempts") + 1,
             claim_token=token, heartbeat_at=now)
    if not claimed:
        # A running job whose worker died after a cancel request ends as cancelled.
        cancelled = TrainingJob.objects.filter(pk=job_id, cancel_requested=True).filter(
            Q(status=TrainingJob.Status.QUEUED)
            | Q(status=TrainingJob.Status.RUNNING, heartbeat_at__lt=_stale_before())
            | Q(status=TrainingJob.Status.RUNNING, heartbeat_at__isnull=True)
        ).update(status=TrainingJob.Status.CANCELLED, finished_at=now)
        if cancelled:
            webhook_training_finished(job_id=job_id)
        return None
    TrainingJob.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=now)
    attempts = TrainingJob.objects.values_list("attempts", flat=True).get(pk=job_id)
    if attempts > MAX_ATTEMPTS:
        training_job_fail(
            claim=Claim(job_id, token, attempts),
            error=f"Gave up after {attempts - 1} attempts: the training worker stopped each "
            "time (crash, out of memory or time limit).",
        )
        return None
    return Claim(job_id=job_id, token=token, attempts=attempts)


def _mine(claim: Claim) -> Any:
    return TrainingJob.objects.filter(pk=claim.job_id, claim_token=claim.token,
                                      status=TrainingJob.Status.RUNNING)


def training_job_heartbeat(*, claim: Claim) -> bool:
    return bool(_mine(claim).update(heartbeat_at=timezone.now()))


def training_job_progress(
    *, claim: Claim, phase: str, step: int, total_steps: int, eta_seconds: float | None,
    loss_curve: list[dict[str, Any]], log_tail: str,
) -> bool:
    """Store the latest progress; False when this run lost its claim."""
    return bool(_mine(claim).update(
        phase=phase[:8], step=max(0, step), total_steps=max(0, total_steps),
        eta_seconds=None if eta_seconds is None else max(0, int(eta_seconds)),
        loss_curve=loss_curve, log_tail=log_tail[-LOG_TAIL_CHARS:],
        heartbeat_at=timezone.now(),
    ))


def training_job_log(*, claim: Claim, loss_curve: list[dict[str, Any]], log_tail: str) -> bool:
    """Store the curve and log without touching the step (between phases, at eval)."""
    return bool(_mine(claim).update(loss_curve=loss_curve, log_tail=log_tail[-LOG_TAIL_CHARS:],
                                    eta_seconds=None, heartbeat_at=timezone.now()))


def training_job_should_stop(*, claim: Claim) -> bool:
    """True when an admin asked to cancel or another run took the job over."""
    row = TrainingJob.objects.filter(pk=claim.job_id).values(
        "cancel_requested", "claim_token", "status"
    ).first()
    return (row is None or row["cancel_requested"] or row["claim_token"] != claim.token
            or row["status"] != TrainingJob.Status.RUNNING)


def _job_base_model(job: TrainingJob) -> str:
    # Jobs started before the base was recorded on the job (and still queued then were
    # pinned by migration 0005) fall back to the project's.
    return job.base_model or job.project.base_model or settings.DEFAULT_BASE_MODEL


def training_job_inputs(*, job_id: int) -> dict[str, Any]:
    """Everything the task needs, as plain data. The base model is the one recorded
    when the job started, whatever the project's base model is now."""
    job = TrainingJob.objects.select_related("project__live_model", "snapshot").get(pk=job_id)
    project = job.project
    live = project.live_model
    return {
        "job_id": job.pk,
        "base_model": _job_base_model(job),
        "snapshot_path": job.snapshot.path if job.snapshot else "",
        "output_dir": job.checkpoint_path,
        "hyperparameters": dict(job.hyperparameters),
        "incumbent": (
            {"version": live.number, "path": live.adapter_path, "sha256": live.adapter_sha256}
            if live is not None and live.adapter_path else None
        ),
        "loss_curve": list(job.loss_curve or []),
        "log_tail": job.log_tail,
    }


def training_job_snapshot(*, job_id: int) -> tuple[Snapshot, bool]:
    """The job's snapshot for training (see :func:`snapshot_files`): a resumed or retried
    job whose snapshot folder went missing trains on the same examples, rebuilt."""
    job = TrainingJob.objects.select_related("snapshot").get(pk=job_id)
    if job.snapshot is None:
        raise SnapshotIntegrityError(f"Training job #{job.pk} has no dataset snapshot.")
    return snapshot_files(job.snapshot)


def _revision_of(base_model: str) -> str:
    try:
        return model_revision(base_model)
    except GenerationError as exc:
        logger.warning("revision of base model %s unknown: %s", base_model, exc)
        return ""


def training_job_fail(*, claim: Claim, error: str) -> bool:
    failed = bool(_mine(claim).update(status=TrainingJob.Status.FAILED, error=error[:4000],
                                      finished_at=timezone.now(), eta_seconds=None))
    if failed:
        webhook_training_finished(job_id=claim.job_id)
    return failed


def training_job_stopped(*, claim: Claim) -> bool:
    """The run stopped on a cancel request: the job ends cancelled (no version)."""
    stopped = bool(_mine(claim).filter(cancel_requested=True).update(
        status=TrainingJob.Status.CANCELLED, finished_at=timezone.now(), eta_seconds=None
    ))
    if stopped:
        webhook_training_finished(job_id=claim.job_id)
    return stopped


def training_job_finish(
    *, claim: Claim, adapter_path: str, adapter_sha: str, metrics: dict[str, Any],
    candidate_wins: bool, base_revision: str | None = None,
    load_check: dict[str, Any] | None = None,
) -> ModelVersion | None:
    """Register the job's adapter as the project's next ModelVersion (ready), mark the
    job succeeded and, with auto-promote on, a winning candidate and a passing load
    check, make it live. None (nothing written) when the claim was lost.

    The version records the base model the job started with and ``base_revision`` (the
    worker passes the revision of the base it trained on; None: worked out now with
    ``generation.models.model_revision``), and ``load_check`` (``{"ok", "error",
    "info"}``, the serving loader's check of the adapter; None: not checked)."""
    with transaction.atomic():
        job = TrainingJob.objects.select_related("project").get(pk=claim.job_id)
        # The live version is read after the lock (not joined into the locking query),
        # so a switch that committed while this waited is seen.
        project = Project.objects.select_for_update(of=("self",)).select_related(
            "team"
        ).get(pk=job.project_id)
        job = TrainingJob.objects.select_for_update().get(pk=claim.job_id)
        if job.status != TrainingJob.Status.RUNNING or job.claim_token != claim.token:
            return None
        number = (ModelVersion.objects.filter(project=project).aggregate(n=Max("number"))["n"]
                  or 0) + 1
        base_model = _job_base_model(job)
        version = ModelVersion.objects.create(
            project=project, number=number, base_model=base_model,
            base_revision=(_revision_of(base_model) if base_revision is None
                           else base_revision),
            adapter_path=adapter_path, adapter_sha256=adapter_sha,
            parent=project.live_model, snapshot=job.snapshot, training_job=job,
            metrics={**metrics, "candidate_wins": candidate_wins},
            status=ModelVersion.Status.READY,
            **_load_check_fields(load_check),
        )
        job.status = TrainingJob.Status.SUCCEEDED
        job.finished_at = timezone.now()
        job.eta_seconds = None
        job.error = ""
        job.save(update_fields=["status", "finished_at", "eta_seconds", "error"])
        if (project.auto_promote and candidate_wins
                and version.load_check == ModelVersion.LoadCheck.OK):
            _make_live(project=project, version=version, actor=None, verb="model.promote",
                       extra={"auto": True})
        webhook_training_finished(job_id=job.pk)
    return version


def training_jobs_reconcile() -> list[int]:
    """Re-send jobs whose message may be lost: queued and never sent (broker down), or
    running without a heartbeat (the worker died: Redis would redeliver only after its
    visibility timeout, hours later). Duplicates are harmless: the claim decides."""
    stale = _stale_before()
    long_ago = timezone.now() - timedelta(seconds=max(3600, settings.TRAINING_STUCK_AFTER * 12))
    ids = list(
        TrainingJob.objects.filter(
            Q(status=TrainingJob.Status.QUEUED, sent_at__isnull=True)
            | Q(status=TrainingJob.Status.QUEUED, sent_at__lt=long_ago)
            | Q(status=TrainingJob.Status.RUNNING, heartbeat_at__lt=stale)
        ).order_by("created_at").values_list("pk", flat=True)[:100]
    )
    return [job_id for job_id in ids if training_job_send(job_id)]


def training_auto_retrain() -> list[int]:
    """Start a job for each project with an auto-retrain threshold that has at least that
    many new (non-excluded) examples since its live version was created and since its last
    job was started (so a job that did not lead to a promotion is not repeated on the same
    data). Returns the new job ids."""
    started: list[int] = []
    projects = Project.objects.filter(auto_retrain_threshold__isnull=False).select_related(
        "team", "live_model"
    )
    for project in projects:
        threshold = project.auto_retrain_threshold or 0
        if threshold <= 0 or TrainingJob.objects.filter(project=project,
                                                         status__in=ACTIVE).exists():
            continue
        marks = [project.live_model.created_at] if project.live_model else []
        last = TrainingJob.objects.filter(project=project).aggregate(at=Max("created_at"))["at"]
        if last is not None:
            marks.append(last)
        new = training_examples(project)
        if marks:
            new = new.filter(created_at__gt=max(marks))
        if new.count() < threshold:
            continue
        method = (TrainingJob.Method.SFT_DPO
                  if training_examples(project).filter(kind=TrainingExample.Kind.PREFERENCE)
                  .count() >= MIN_PREFERENCE_EXAMPLES else TrainingJob.Method.SFT)
        try:
            job = _job_create(project=project, user=None, method=method, overrides={},
                              auto=True)
        except ValidationError as exc:
            logger.info("auto-retrain of project %s skipped: %s", project.pk,
                        " ".join(exc.messages))
            continue
        started.append(job.pk)
    return started


# --- Versions ----------------------------------------------------------------------


def _verify_adapter(version: ModelVersion) -> None:
    if not version.adapter_path:
        raise ValidationError(f"v{version.number} has no adapter; the live model is unchanged.")
    folder = Path(version.adapter_path)
    try:
        check_adapter_dir(folder)
        verify_adapter_sha256(folder, version.adapter_sha256)
    except AdapterChecksumError as exc:
        if _is_legacy_record(folder, version.adapter_sha256):
            raise ValidationError(
                f"The adapter of v{version.number} cannot be used yet: its recorded sha256 is "
                "a legacy checksum of the weights alone, which does not cover "
                "adapter_config.json. Ask an operator to run `python manage.py "
                "adapter_checksums_upgrade --apply` (it re-records it while the weights "
                "still match), or retrain the project; the live model is unchanged."
            ) from exc
        raise ValidationError(
            f"The adapter files of v{version.number} no longer match their recorded sha256 "
            "(changed or replaced on disk); refused, the live model is unchanged."
        ) from exc
    except AdapterError as exc:
        raise ValidationError(
            f"The adapter of v{version.number} cannot be used ({exc}); the live model is "
            "unchanged."
        ) from exc


def _verify_load_check(version: ModelVersion, verb: str) -> None:
    """Promote needs a passing load check; roll back refuses only a failed one."""
    check = version.load_check
    name = f"v{version.number}"
    if check == ModelVersion.LoadCheck.FAILED:
        raise ValidationError(
            f"{name} cannot be loaded: {version.load_check_error.rstrip('. ')}. Refused; "
            "the live model is unchanged. Retrain the project, or fix the cause and check "
            "it again."
        )
    if verb == "model.rollback" or check == ModelVersion.LoadCheck.OK:
        return
    if check == ModelVersion.LoadCheck.PENDING:
        raise ValidationError(
            f"{name} is being checked (loaded and made to write a few tokens); promote it "
            "once the check has passed. The live model is unchanged."
        )
    raise ValidationError(
        f"{name} has not been checked yet: check that it loads (the models page's "
        f"Check button, or POST /api/model-versions/{version.pk}/check/), then promote "
        "it. The live model is unchanged."
    )


def _is_legacy_record(folder: Path, recorded: str) -> bool:
    """True when ``recorded`` is a weights-only checksum the weights still match."""
    try:
        return adapter_sha256_upgrade(folder, recorded) != recorded.lower()
    except AdapterError:  # changed (AdapterChecksumError) or gone meanwhile
        return False


def _make_live(
    *, project: Project, version: ModelVersion, actor: Any, verb: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """Switch the live version; the caller holds the project row lock."""
    _verify_adapter(version)
    _verify_load_check(version, verb)
    old = project.live_model
    now = timezone.now()
    if old is not None and old.pk != version.pk:
        ModelVersion.objects.filter(pk=old.pk).update(status=ModelVersion.Status.ARCHIVED)
    ModelVersion.objects.filter(project=project, status=ModelVersion.Status.LIVE).exclude(
        pk=version.pk
    ).update(status=ModelVersion.Status.ARCHIVED)
    version.status = ModelVersion.Status.LIVE
    version.promoted_at = now
    version.save(update_fields=["status", "promoted_at"])
    project.live_model = version
    project.save(update_fields=["live_model", "updated_at"])
    audit_record(actor=actor, team=project.team, verb=verb, obj=version,
                 before={"live": old.number if old else None},
                 after={"live": version.number, **(extra or {})})


def _switch(*, user: Any, version_id: object, allowed: tuple[str, ...], verb: str,
            refusal: str) -> ModelVersion:
    version = version_for_user(user, version_id, need=Need.ADMIN)
    with transaction.atomic():
        # live_model is read after the lock, never joined into the locking query: a
        # switch that committed while this one waited must be seen.
        project = Project.objects.select_for_update(of=("self",)).select_related(
            "team"
        ).get(pk=version.project_id)
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if version.status not in allowed:
            raise ValidationError(refusal.format(n=version.number,
                                                 status=version.get_status_display().lower()))
        _make_live(project=project, version=version, actor=user, verb=verb)
    return version


def model_promote(*, user: Any, version_id: object) -> ModelVersion:
    """Make a ready version live (the old live one is archived). One transaction."""
    return _switch(
        user=user, version_id=version_id, allowed=(ModelVersion.Status.READY,),
        verb="model.promote",
        refusal="v{n} is {status}; only a ready version can be promoted.",
    )


def model_rollback(*, user: Any, version_id: object) -> ModelVersion:
    """Make an archived (earlier live) version live again."""
    return _switch(
        user=user, version_id=version_id, allowed=(ModelVersion.Status.ARCHIVED,),
        verb="model.rollback",
        refusal="v{n} is {status}; roll back goes to an archived (earlier live) version.",
    )


def model_use_base(*, user: Any, project_id: object) -> Project:
    """Take the live version off: the project serves its plain base model again and new
    generation jobs use no adapter. The version is archived, so an admin can roll back
    to it. One transaction (project row locked) and one audit row; refused when the
    project already uses the base model."""
    project = project_for_user(user, project_id, need=Need.ADMIN)
    with transaction.atomic():
        project = Project.objects.select_for_update(of=("self",)).select_related(
            "team"
        ).get(pk=project.pk)
        live = project.live_model  # read after the lock: the latest committed switch
        base = project.base_model or settings.DEFAULT_BASE_MODEL
        if live is None:
            raise ValidationError(
                f"The project already uses its base model ({base}); nothing changed."
            )
        ModelVersion.objects.filter(project=project, status=ModelVersion.Status.LIVE).update(
            status=ModelVersion.Status.ARCHIVED
        )
        project.live_model = None
        project.save(update_fields=["live_model", "updated_at"])
        audit_record(actor=user, team=project.team, verb="model.use_base", obj=project,
                     before={"live": live.number}, after={"live": None, "base_model": base})
    return project


# --- Load checks -------------------------------------------------------------------


def _load_check_fields(check: dict[str, Any] | None) -> dict[str, Any]:
    if check is None:
        return {"load_check": ModelVersion.LoadCheck.UNCHECKED}
    return {
        "load_check": (ModelVersion.LoadCheck.OK if check["ok"]
                       else ModelVersion.LoadCheck.FAILED),
        "load_check_error": "" if check["ok"] else str(check.get("error") or "")[:4000],
        "load_checked_at": timezone.now(),
        "load_check_info": dict(check.get("info") or {}),
    }


def model_version_check_request(*, user: Any, version_id: object) -> ModelVersion:
    """Ask a generation worker to check that the version loads and writes (admins).

    The version's check becomes "pending" and ``check_model_version`` is queued on
    commit (queue ``generate``: the worker uses its own serving engine). Refused for a
    version without an adapter. When the queue is unreachable the check goes back to
    "not checked" with a note, so nothing waits for a message that was never sent."""
    version = version_for_user(user, version_id, need=Need.ADMIN)
    if not version.adapter_path:
        raise ValidationError(f"v{version.number} has no adapter: there is nothing to check.")
    with transaction.atomic():
        ModelVersion.objects.filter(pk=version.pk).update(
            load_check=ModelVersion.LoadCheck.PENDING, load_check_error=""
        )
        transaction.on_commit(lambda: model_version_check_send(version.pk))
    version.refresh_from_db()
    return version


def model_version_check_send(version_id: int) -> bool:
    from studio.tasks.generation import check_model_version

    try:
        check_model_version.apply_async(args=[version_id], retry=False)
    except Exception:  # noqa: BLE001 - any broker error: say so on the version
        logger.warning("Broker unreachable; load check of version %s not queued", version_id)
        ModelVersion.objects.filter(pk=version_id, load_check=ModelVersion.LoadCheck.PENDING
                                    ).update(load_check=ModelVersion.LoadCheck.UNCHECKED,
                                             load_check_error="The check could not be queued "
                                             "(the queue is unreachable); try again.")
        return False
    return True


def model_version_check_target(*, version_id: int) -> dict[str, Any] | None:
    """What the check task loads: the version's base model and adapter, or None when
    the version is gone or has no adapter."""
    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is None or not version.adapter_path:
        return None
    return {"version": version.number, "base_model": version.base_model,
            "adapter": {"path": version.adapter_path, "sha256": version.adapter_sha256}}


def model_version_check_record(*, version_id: int, check: dict[str, Any]) -> bool:
    """Record a load check's outcome (``{"ok", "error", "info"}``) on the version."""
    return bool(ModelVersion.objects.filter(pk=version_id).update(**_load_check_fields(check)))


def model_version_load_failed(*, version_id: int, error: str) -> bool:
    """A generation worker could not load the version for a job: its check is failed
    now, with the worker's error, whatever an earlier check said."""
    return model_version_check_record(version_id=version_id, check={
        "ok": False, "error": error, "info": {"where": "a generation job"},
    })


# --- Checksums ---------------------------------------------------------------------


class ChecksumOutcome(StrEnum):
    CURRENT = "already current"
    WOULD_UPGRADE = "would upgrade"
    UPGRADED = "upgraded"
    # Refused, the record is left as is:
    CHANGED = "files changed"
    MISSING = "files missing"
    RECORD_CHANGED = "record changed meanwhile"

    @property
    def refused(self) -> bool:
        return self in (ChecksumOutcome.CHANGED, ChecksumOutcome.MISSING,
                        ChecksumOutcome.RECORD_CHANGED)


class ChecksumUpgrade(NamedTuple):
    version: ModelVersion
    outcome: ChecksumOutcome
    detail: str = ""


def adapter_checksums_upgrade(*, apply: bool) -> list[ChecksumUpgrade]:
    """Re-record every version whose adapter sha256 is a legacy weights-only checksum.

    A record is upgraded only while the weights file still matches it (the config was
    never covered: an operator who doubts it retrains instead). Versions whose files
    changed or are gone are refused and left as is. Without ``apply`` nothing is
    written. Each save is a conditional UPDATE on the old value with an audit row
    (actor None: an operator's command), so a second run, or one racing another,
    upgrades nothing twice.
    """
    versions = (ModelVersion.objects.exclude(adapter_path="")
                .select_related("project__team").order_by("project_id", "number"))
    results: list[ChecksumUpgrade] = []
    for version in versions.iterator():
        old = version.adapter_sha256
        try:
            new = adapter_sha256_upgrade(version.adapter_path, old)
        except AdapterChecksumError as exc:
            results.append(ChecksumUpgrade(version, ChecksumOutcome.CHANGED, str(exc)))
            continue
        except AdapterError as exc:
            results.append(ChecksumUpgrade(version, ChecksumOutcome.MISSING, str(exc)))
            continue
        if new == old.lower():
            results.append(ChecksumUpgrade(version, ChecksumOutcome.CURRENT))
        elif not apply:
            results.append(ChecksumUpgrade(version, ChecksumOutcome.WOULD_UPGRADE))
        else:
            results.append(_checksum_record(version=version, old=old, new=new))
    return results


def _checksum_record(*, version: ModelVersion, old: str, new: str) -> ChecksumUpgrade:
    with transaction.atomic():
        updated = ModelVersion.objects.filter(pk=version.pk, adapter_sha256=old).update(
            adapter_sha256=new
        )
        if not updated:
            now = ModelVersion.objects.filter(pk=version.pk).values_list(
                "adapter_sha256", flat=True
            ).first()
            if now == new:  # another run got there first
                return ChecksumUpgrade(version, ChecksumOutcome.CURRENT)
            return ChecksumUpgrade(version, ChecksumOutcome.RECORD_CHANGED,
                                   "the recorded sha256 changed while this ran; run again")
        audit_record(actor=None, team=version.project.team, verb="model.checksum_upgrade",
                     obj=version, before={"adapter_sha256": old},
                     after={"adapter_sha256": new})
    version.adapter_sha256 = new
    return ChecksumUpgrade(version, ChecksumOutcome.UPGRADED)
