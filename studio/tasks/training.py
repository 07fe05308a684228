"""Training tasks: ``run_training_job`` (queue ``train``) and training housekeeping
(``reconcile_training_jobs``, ``auto_retrain``, on the default queue by beat).

The bridge between TrainingJob rows and ``generation.training``: database work is in
studio.services.training; this module claims the job, turns rows into the library's
inputs, reports progress back and evaluates the result. torch is imported only inside
the task, never when the web process imports this module.

Safe to run twice and after a kill: the claim is a conditional UPDATE, the output folder
is the job's own (``ADAPTER_DIR/<project>/job-<id>``), and ``train_adapter`` resumes
from its last complete checkpoint (or returns the stored result of a finished run).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import shared_task
from django.conf import settings

from generation.training.config import ProgressEvent as Event
from generation.training.config import TrainProgress
from studio.services import training as svc
from studio.tasks.heartbeat import heartbeat

logger = logging.getLogger(__name__)

# Progress rows are written at most this often (plus every eval, start and resume).
PROGRESS_EVERY_S = 1.0
CANCEL_CHECK_EVERY_S = 1.0


class ProgressRecorder:
    """Turns TrainProgress events into the job's step, loss curve and log tail."""

    # Written at once; other events at most every PROGRESS_EVERY_S.
    URGENT = frozenset({Event.STARTED, Event.RESUMED, Event.EVAL, Event.CANCELLED})

    def __init__(self, claim: svc.Claim, loss_curve: list[dict[str, Any]], log_tail: str):
        self.claim = claim
        self.curve = loss_curve
        self.log = log_tail
        self.last_write = 0.0
        self.lost = False

    def __call__(self, report: TrainProgress) -> None:
        point = {"phase": report.phase, "step": report.step}
        if report.event is Event.RESUMED:
            # Points logged after the checkpoint by the dead run are trained again now.
            self.curve = [p for p in self.curve
                          if p.get("phase") != report.phase or p.get("step", 0) <= report.step]
        elif report.event is Event.STEP and report.train_loss is not None:
            self.curve.append({**point, "loss": round(report.train_loss, 5)})
        elif report.event is Event.EVAL and report.eval_loss is not None:
            self.curve.append({**point, "eval_loss": round(report.eval_loss, 5)})
        self.note(report.message)
        now = time.monotonic()
        if report.event in self.URGENT or now - self.last_write >= PROGRESS_EVERY_S or (
            report.total_steps and report.step >= report.total_steps
        ):
            self.flush(report)
            self.last_write = now

    def flush(self, report: TrainProgress) -> None:
        ok = svc.training_job_progress(
            claim=self.claim, phase=report.phase, step=report.step,
            total_steps=report.total_steps, eta_seconds=report.eta_s,
            loss_curve=self.curve, log_tail=self.log,
        )
        self.lost = self.lost or not ok

    def note(self, line: str) -> None:
        if line:
            self.log = (self.log + line + "\n")[-svc.LOG_TAIL_CHARS:]


class CancelCheck:
    """``should_cancel`` for the trainer: asks the database at most once a second."""

    def __init__(self, claim: svc.Claim) -> None:
        self.claim = claim
        self.checked = 0.0
        self.answer = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self.answer and now - self.checked >= CANCEL_CHECK_EVERY_S:
            self.checked = now
            self.answer = svc.training_job_should_stop(claim=self.claim)
        return self.answer


def _metrics(candidate: Any, incumbent: Any, incumbent_name: str, result: Any) -> dict[str, Any]:
    return {
        "candidate": {"eval_loss": candidate.loss, "perplexity": candidate.perplexity,
                      "n_tokens": candidate.n_tokens, "n_examples": candidate.n_examples},
        "incumbent": {"name": incumbent_name, "eval_loss": incumbent.loss,
                      "perplexity": incumbent.perplexity, "n_tokens": incumbent.n_tokens,
                      "n_examples": incumbent.n_examples},
        "train": {**result.metrics, "steps": result.steps,
                  "stopped_early": result.stopped_early,
                  "resumed_from_step": result.resumed_from_step,
                  "phases": list(result.phases)},
    }


def _incumbent_adapter(inputs: dict[str, Any], recorder: ProgressRecorder) -> tuple[Any, str]:
    """The live version's adapter folder to compare against, or None for the bare base."""
    from generation.adapters import verify_adapter_sha256
    from generation.errors import AdapterError

    live = inputs["incumbent"]
    if live is None:
        return None, "base model"
    try:
        verify_adapter_sha256(live["path"], live["sha256"])
    except AdapterError as exc:  # AdapterChecksumError included: changed or legacy record
        recorder.note(f"live v{live['version']} adapter unusable ({exc}); compared with the base")
        return None, "base model (live adapter unusable)"
    return live["path"], f"v{live['version']}"


def _check_and_gate(
    inputs: dict[str, Any], snapshot: Any, result: Any, candidate: Any, incumbent: Any,
    incumbent_dir: Any, incumbent_name: str, recorder: ProgressRecorder,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The finishing steps, on one engine loaded the way generation workers load it
    (same loader, same libraries as this image's lock):

    1. the load check: load the new adapter and write a few tokens; a version that
       fails is registered with the reason and never auto-promoted;
    2. the gate: the candidate and the version it would replace write drafts for the
       snapshot's held-out briefs with the same seeds, scored by edit cost against the
       approved texts (``generation.gate``).

    Returns (the check as the version records it, the gate report as a dict)."""
    from generation.adapters import AdapterRef
    from generation.engine import Engine
    from generation.errors import GenerationError
    from generation.gate import DRAFTS_FAILED, GateReport, run_gate, voice_of
    from studio.tasks.generation import check_record

    ref = AdapterRef(str(result.adapter_dir), str(result.adapter_sha256))
    recorder.note("load check: loading the adapter as the generation workers do")
    try:
        engine = Engine.load(inputs["base_model"], settings.MODEL_CACHE_DIR,
                             device=settings.GENERATION_DEVICE, max_adapters=2)
    except GenerationError as exc:
        error = f"the base model could not be loaded: {exc}"
        recorder.note(f"load check FAILED: {error}")
        return ({"ok": False, "error": error, "info": {"where": "training worker"}},
                GateReport(verdict=DRAFTS_FAILED, message=error).to_dict())
    try:
        check = engine.check_adapter(ref)
        recorder.note(f"load check passed in {check.seconds:.1f}s" if check.ok
                      else f"load check FAILED: {check.error}")
        if not check.ok:
            gate = GateReport(verdict=DRAFTS_FAILED, message=(
                f"The candidate could not be loaded, so it wrote no draft: {check.error}"))
            return check_record(check, where="training worker"), gate.to_dict()
        live = inputs["incumbent"]
        held_out = snapshot.sft_eval
        recorder.note(f"gate: the candidate and the {incumbent_name} write drafts for "
                      f"{min(len(held_out), settings.GATE_MAX_BRIEFS)} held-out brief(s)")
        report = run_gate(
            engine, held_out, candidate=ref,
            incumbent=(AdapterRef(str(incumbent_dir), live["sha256"])
                       if incumbent_dir is not None else None),
            candidate_name="the candidate", incumbent_name=incumbent_name,
            max_briefs=settings.GATE_MAX_BRIEFS, max_new_tokens=settings.GATE_MAX_NEW_TOKENS,
            voice=voice_of(inputs.get("voice")), candidate_loss=candidate.loss,
            incumbent_loss=incumbent.loss, resamples=settings.GATE_BOOTSTRAP_RESAMPLES,
        )
        recorder.note(f"gate: {report.verdict} in {report.settings['seconds']}s: "
                      f"{report.message}")
        return check_record(check, where="training worker"), report.to_dict()
    finally:
        del engine
        _free_memory()


def _free_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _train(claim: svc.Claim) -> str:
    from generation.models import model_revision, resolve_model_dir
    from generation.training import TrainConfig, compare, evaluate_adapter, train_adapter

    inputs = svc.training_job_inputs(job_id=claim.job_id)
    recorder = ProgressRecorder(claim, inputs["loss_curve"], inputs["log_tail"])
    recorder.note(f"attempt {claim.attempts}: preparing the base model and snapshot")
    base_dir = resolve_model_dir(inputs["base_model"], settings.MODEL_CACHE_DIR)
    # What the adapter is trained on, as this worker has it (the wheel installed here).
    base_revision = model_revision(inputs["base_model"])
    snapshot, rebuilt = svc.training_job_snapshot(job_id=claim.job_id)
    if rebuilt:
        recorder.note(f"snapshot {snapshot.content_hash[:12]} was missing: "
                      "rebuilt from its examples (same content hash)")
    config = TrainConfig.from_dict(inputs["hyperparameters"])
    result = train_adapter(base_dir, snapshot, inputs["output_dir"], config,
                           progress=recorder, should_cancel=CancelCheck(claim))
    if result.cancelled:
        svc.training_job_stopped(claim=claim)
        return "cancelled"
    recorder.note("evaluating the candidate and the live version on the held-out split")
    svc.training_job_log(claim=claim, loss_curve=recorder.curve, log_tail=recorder.log)
    incumbent_dir, incumbent_name = _incumbent_adapter(inputs, recorder)
    evals = snapshot.sft_eval or snapshot.sft_train
    candidate = evaluate_adapter(base_dir, result.adapter_dir, evals,
                                 max_length=config.max_length)
    incumbent = evaluate_adapter(base_dir, incumbent_dir, evals, max_length=config.max_length)
    svc.training_job_log(claim=claim, loss_curve=recorder.curve, log_tail=recorder.log)
    check, gate = _check_and_gate(inputs, snapshot, result, candidate, incumbent,
                                  incumbent_dir, incumbent_name, recorder)
    svc.training_job_log(claim=claim, loss_curve=recorder.curve, log_tail=recorder.log)
    metrics = _metrics(candidate, incumbent, incumbent_name, result)
    metrics["loss_better"] = compare(candidate, incumbent)
    # Auto-promote follows the gate (edit cost on held-out drafts), not eval loss.
    version = svc.training_job_finish(
        claim=claim, adapter_path=str(result.adapter_dir), adapter_sha=str(result.adapter_sha256),
        metrics=metrics, candidate_wins=bool(gate["passed"]),
        base_revision=base_revision, load_check=check, gate=gate,
    )
    return "claim lost" if version is None else f"registered v{version.number}"


@shared_task(
    bind=True,
    name="studio.tasks.training.run_training_job",
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=settings.TRAINING_TASK_TIME_LIMIT,
    soft_time_limit=max(1, settings.TRAINING_TASK_TIME_LIMIT - 60),
)
def run_training_job(self: Any, job_id: int) -> str:
    from generation.errors import GenerationError
    from generation.training import TrainingInProgress

    claim = svc.training_job_claim(job_id=job_id)
    if claim is None:
        return "nothing to do"
    try:
        with heartbeat(lambda: svc.training_job_heartbeat(claim=claim),
                       every=max(0.5, settings.TRAINING_STUCK_AFTER / 4),
                       name="training-heartbeat"):
            return _train(claim)
    except TrainingInProgress:
        # The previous run of this job is still alive and holds the folder lock; it
        # notices the lost claim at its next step and stops, then a re-send resumes.
        return "another run holds the output folder"
    except GenerationError as exc:
        svc.training_job_fail(claim=claim, error=str(exc))
        return "failed"
    except Exception as exc:
        logger.exception("training job %s failed", job_id)
        svc.training_job_fail(claim=claim, error=f"{type(exc).__name__}: {exc}")
        return "failed"


@shared_task(name="studio.tasks.training.reconcile_training_jobs")
def reconcile_training_jobs() -> list[int]:
    return svc.training_jobs_reconcile()


@shared_task(name="studio.tasks.training.auto_retrain")
def auto_retrain() -> list[int]:
    return svc.training_auto_retrain()
