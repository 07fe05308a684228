"""Retraining jobs: start, send, claim, progress, finish, cancel, reconcile, auto-retrain.

:func:`training_job_start` freezes a snapshot, records the base model the job trains on,
refuses too little data or a second active job, and enqueues ``run_training_job`` on
commit. The job's lifecycle is the one all jobs share (studio.services.jobs, with
TRAINING_STUCK_AFTER and TRAINING_MAX_ATTEMPTS): the task claims the job with a
conditional UPDATE (``queued``, or ``running`` with a stale heartbeat), so a duplicate
delivery does nothing and a job whose worker died is picked up again and resumes from
its output folder's last complete checkpoint; a snapshot folder that went missing is
rebuilt from its examples (:func:`training_job_snapshot`), an edited one refused.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from generation.errors import GenerationError
from generation.models import model_revision
from generation.training import (
    MIN_PREFERENCE_EXAMPLES,
    NotEnoughExamples,
    Snapshot,
    SnapshotIntegrityError,
    TrainConfig,
)
from studio.models import ModelVersion, Project, TrainingExample, TrainingJob
from studio.permissions import Need, project_for_user, training_job_for_user
from studio.selectors.training import training_examples
from studio.services import jobs as lifecycle
from studio.services.audit import audit_record
from studio.services.claims import Claim
from studio.services.errors import WrongState
from studio.services.notifications import notify_training_finished
from studio.services.training.snapshots import snapshot_files, snapshot_of, snapshot_store
from studio.services.training.versions import load_check_fields, make_live
from studio.services.webhooks import webhook_training_finished

logger = logging.getLogger(__name__)

LOG_TAIL_CHARS = 8000


def _finished(*, job_id: int) -> None:
    """A training job ended (succeeded, failed, cancelled): its webhook and its admins."""
    webhook_training_finished(job_id=job_id)
    notify_training_finished(job_id=job_id)


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
    active = TrainingJob.objects.filter(project=project).active().first()
    if active is not None:
        raise ValidationError(_busy_message(active.pk))
    # Refuse too little data before anything is written.
    snapshot, example_ids = snapshot_of(training_examples(project))
    config = _config_for(snapshot, method, overrides)
    _check_enough(snapshot, config)
    snapshot_row = snapshot_store(project=project, snapshot=snapshot,
                                  example_ids=example_ids)
    base_model = project.effective_base_model
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
            active = TrainingJob.objects.filter(project=project).active().first()
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
    return lifecycle.job_send(kind=TRAINING, job_id=job_id)


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
            raise WrongState(f"Job #{job.pk} has already ended ({job.get_status_display()}).")
        job.save(update_fields=["status", "finished_at", "cancel_requested"])
        audit_record(actor=user, team=job.project.team, verb="training.cancel", obj=job,
                     before=before, after={"status": job.status, "cancel_requested": True})
        if job.status == TrainingJob.Status.CANCELLED:
            _finished(job_id=job.pk)
    return job


def training_job_claim(*, job_id: int) -> Claim | None:
    """Take the job for this run: queued, or running with a stale or missing heartbeat
    (its worker died). None when another run has it or it has ended."""
    claim = lifecycle.job_claim_row(kind=TRAINING, job_id=job_id,
                                    only_if=Q(cancel_requested=False))
    if claim is None:
        # A running job whose worker died after a cancel request ends as cancelled.
        cancelled = TrainingJob.objects.filter(pk=job_id, cancel_requested=True).filter(
            lifecycle.claimable(TRAINING)
        ).update(status=TrainingJob.Status.CANCELLED, finished_at=timezone.now())
        if cancelled:
            _finished(job_id=job_id)
        return None
    TrainingJob.objects.filter(pk=job_id, started_at__isnull=True).update(
        started_at=timezone.now())
    if lifecycle.job_over_attempts(kind=TRAINING, claim=claim):
        training_job_fail(claim=claim, error=lifecycle.job_gave_up_message(
            kind=TRAINING, attempts=claim.attempts - 1))
        return None
    return claim


def _mine(claim: Claim) -> Any:
    return lifecycle.job_mine(kind=TRAINING, claim=claim)


def training_job_heartbeat(*, claim: Claim) -> bool:
    return lifecycle.job_heartbeat_row(kind=TRAINING, claim=claim)


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


def training_job_inputs(*, job_id: int) -> dict[str, Any]:
    """Everything the task needs, as plain data. The base model is the one recorded
    when the job started, whatever the project's base model is now."""
    job = TrainingJob.objects.select_related("project__live_model", "snapshot").get(pk=job_id)
    project = job.project
    live = project.live_model
    return {
        # What the gate's drafts are checked against (the prompt itself is the snapshot's).
        "voice": {"must_not": project.must_not_rules, "banned_terms": project.banned_term_list},
        "job_id": job.pk,
        "base_model": job.effective_base_model,
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
    """Mark the job failed for good with ``error``; False when the claim was lost."""
    with transaction.atomic():
        failed = lifecycle.job_fail_row(kind=TRAINING, claim=claim, error=error,
                                        eta_seconds=None) is not None
        if failed:
            _finished(job_id=claim.job_id)
    return failed


def training_job_stopped(*, claim: Claim) -> bool:
    """The run stopped on a cancel request: the job ends cancelled (no version)."""
    stopped = bool(_mine(claim).filter(cancel_requested=True).update(
        status=TrainingJob.Status.CANCELLED, finished_at=timezone.now(), eta_seconds=None
    ))
    if stopped:
        _finished(job_id=claim.job_id)
    return stopped


def training_job_finish(
    *, claim: Claim, adapter_path: str, adapter_sha: str, metrics: dict[str, Any],
    candidate_wins: bool, base_revision: str | None = None,
    load_check: dict[str, Any] | None = None, gate: dict[str, Any] | None = None,
) -> ModelVersion | None:
    """Register the job's adapter as the project's next ModelVersion (ready), mark the
    job succeeded and, with auto-promote on, a winning candidate (the task passes the
    gate's verdict) and a passing load check, make it live. None (nothing written) when
    the claim was lost. ``gate`` is the gate's report, stored on the version.

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
        base_model = job.effective_base_model
        version = ModelVersion.objects.create(
            project=project, number=number, base_model=base_model,
            base_revision=(_revision_of(base_model) if base_revision is None
                           else base_revision),
            adapter_path=adapter_path, adapter_sha256=adapter_sha,
            parent=project.live_model, snapshot=job.snapshot, training_job=job,
            metrics={**metrics, "candidate_wins": candidate_wins},
            gate=dict(gate or {}),
            status=ModelVersion.Status.READY,
            **load_check_fields(load_check),
        )
        job.status = TrainingJob.Status.SUCCEEDED
        job.finished_at = timezone.now()
        job.eta_seconds = None
        job.error = ""
        job.save(update_fields=["status", "finished_at", "eta_seconds", "error"])
        if (project.auto_promote and candidate_wins
                and version.load_check == ModelVersion.LoadCheck.OK):
            make_live(project=project, version=version, actor=None, verb="model.promote",
                       extra={"auto": True})
        _finished(job_id=job.pk)
    return version


def training_jobs_reconcile() -> list[int]:
    """Re-send jobs whose message may be lost: queued and never sent (broker down) or
    sent long ago (an hour, or twelve times TRAINING_STUCK_AFTER), or running without a
    heartbeat (the worker died: Redis would redeliver only after its visibility timeout,
    hours later). Duplicates are harmless: the claim decides."""
    return lifecycle.jobs_reconcile(kind=TRAINING, send=training_job_send)


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
        if threshold <= 0 or TrainingJob.objects.filter(project=project).active().exists():
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


TRAINING = lifecycle.JobKind(
    model=TrainingJob,
    task_name="studio.tasks.training.run_training_job",
    label="training job",
    stuck_after_setting="TRAINING_STUCK_AFTER",
    max_attempts_setting="TRAINING_MAX_ATTEMPTS",
    stopped_each_time="the training worker stopped each time",
    # A training job waits behind long runs: its message is left alone far longer.
    resend_queued_after=lambda: max(3600, settings.TRAINING_STUCK_AFTER * 12),
    reconcile_batch=100,
)

