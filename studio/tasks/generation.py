"""Generation tasks (queue ``generate``): the bridge between job rows and generation/.

A worker process keeps one base model in memory (loaded on its first job) and lets the
engine switch LoRA adapters per project. Database work is in
studio.services.generation; this module only converts plain data to the library's
dataclasses and back.

A version whose adapter cannot be loaded fails its own jobs only, each with the reason
(the engine takes the adapter out again and serves the base model and other adapters on);
``check_model_version`` runs the same loader on an admin's request before a promotion.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import shared_task
from django.conf import settings

from studio.models import GenerationJob
from studio.selectors.knowledge import knowledge_uses_of
from studio.services import generation as jobs
from studio.services import training as versions
from studio.tasks.heartbeat import heartbeat

logger = logging.getLogger(__name__)

_engine_lock = threading.Lock()
_engine: Any = None  # the loaded generation.engine.Engine of this worker process
_engine_spec = ""


def engine_for(base_model: str) -> Any:
    """This process's engine for ``base_model``; loads it once, replaces it on a new base
    or when an adapter failure left its base model unusable (``Engine.broken``)."""
    global _engine, _engine_spec
    from generation.engine import Engine

    with _engine_lock:
        if _engine is not None and _engine.broken:
            logger.error("reloading base model %s: %s", _engine_spec, _engine.broken)
            _engine = None
        if _engine is None or _engine_spec != base_model:
            _engine = None  # free the old base before loading another
            _engine = Engine.load(base_model, settings.MODEL_CACHE_DIR,
                                  device=settings.GENERATION_DEVICE)
            _engine_spec = base_model
            logger.info("loaded base model %s on %s", base_model, _engine.base.device)
        return _engine


def to_request(inputs: dict[str, Any]) -> Any:
    from generation.adapters import AdapterRef
    from generation.engine import GenerationRequest, SamplingParams
    from generation.prompts import (
        BriefInput,
        FewShotExample,
        ProjectVoice,
        default_target,
        max_new_tokens_for,
    )

    language = inputs.get("language", "en")

    def brief(fields: dict[str, Any]) -> BriefInput:
        target = fields["target_words"] or default_target(fields["kind"], language)
        return BriefInput(
            language=language,
            kind=fields["kind"], title=fields["title"], instructions=fields["instructions"],
            audience=fields["audience"], tone=fields["tone"],
            keywords=tuple(fields["keywords"]), target_words=target,
            source_text=fields["source_text"],
            extra={k: v for k, v in fields["extra"].items() if isinstance(v, str | int)},
        )

    main = brief(inputs["brief"])
    voice = inputs["voice"]
    adapter = inputs["adapter"]
    return GenerationRequest(
        brief=main,
        voice=ProjectVoice(
            brand_voice=voice["brand_voice"], must=tuple(voice["must"]),
            must_not=tuple(voice["must_not"]), banned_terms=tuple(voice["banned_terms"]),
        ),
        examples=tuple(FewShotExample(brief=brief(e["brief"]), text=e["text"])
                       for e in inputs["examples"]),
        variants=inputs["variants"],
        adapter=AdapterRef(adapter["path"], adapter["sha256"]) if adapter else None,
        sampling=SamplingParams(
            max_new_tokens=max_new_tokens_for(main.target_words,
                                              cap=settings.GENERATION_MAX_NEW_TOKENS,
                                              language=language)
        ),
        seed=inputs["seed"],
        reference_corpus=tuple(inputs["reference_corpus"]),
        knowledge=tuple(p["text"] for p in inputs["knowledge"]["passages"]),
        request_id=str(inputs["job_id"]),
    )


def to_drafts(result: Any) -> list[dict[str, Any]]:
    from dataclasses import asdict

    params = asdict(result.sampling)
    params["model"] = result.model
    params["adapter_sha256"] = result.adapter_sha256
    # The plain turns the prompt was rendered from: training examples and exports take
    # them (studio.services.reviews), never the rendered text.
    params["messages"] = [dict(m) for m in result.messages]
    return [
        {
            "variant": d.variant,
            "text": d.text,
            "seed": d.seed,
            "params": {**params, "finish_reason": d.finish_reason, "regenerated": d.regenerated,
                       "generate_seconds": round(d.generate_seconds, 3)},
            "prompt_tokens": d.prompt_tokens,
            "completion_tokens": d.completion_tokens,
            "flags": [{"code": f.code, "message": f.message,
                       "span": list(f.span) if f.span else None} for f in d.flags],
        }
        for d in result.drafts
    ]


def _is_permanent(exc: BaseException) -> bool:
    """Errors a retry cannot fix: a bad brief, a refused adapter, an unknown model."""
    from generation.errors import (
        AdapterError,
        ModelNotFoundError,
        ModelSpecError,
        PromptError,
        RequestError,
    )

    return isinstance(exc, PromptError | RequestError | AdapterError | ModelSpecError
                      | ModelNotFoundError)


def failure_of(exc: BaseException) -> str:
    """The plain-words class of a job's error (GenerationJob.Failure)."""
    from generation.errors import (
        AdapterError,
        ModelLoadError,
        ModelNotFoundError,
        ModelSpecError,
        PromptError,
        RequestError,
    )

    if isinstance(exc, AdapterError):
        return GenerationJob.Failure.MODEL
    if isinstance(exc, ModelLoadError | ModelNotFoundError | ModelSpecError):
        return GenerationJob.Failure.BASE_MODEL
    if isinstance(exc, PromptError | RequestError):
        return GenerationJob.Failure.BRIEF
    return GenerationJob.Failure.ERROR


def check_record(check: Any, *, where: str) -> dict[str, Any]:
    """A generation.engine.AdapterCheck as the plain data a version records."""
    return {"ok": check.ok, "error": check.error, "info": {
        "where": where, "libraries": dict(check.libraries), "sample": check.sample[:200],
        "seconds": round(check.seconds, 2), "base_model": check.base_model,
    }}


# How often a running batch looks for new jobs even when the queue counter in Redis did
# not move (Redis down, or a job re-queued by the reconciler without a send).
ADMIT_POLL_SECONDS = 2.0
# How often each running job's partial text is published.
PARTIAL_EVERY_SECONDS = 0.5
# How often a running batch reads the cancel flags of its jobs (one Redis read).
CANCEL_CHECK_SECONDS = 0.25

Observer = Callable[[str, int], None]


@dataclass
class _Running:
    claim: Any
    key: int
    knowledge: dict[str, Any]  # the passages retrieved for it (job_inputs)


class BatchRun:
    """One worker's continuous batch on one base model.

    The job whose message started the task is taken first; then, at every decoding step
    while there is room (GENERATION_MICRO_BATCH jobs, the engine's row cap), the next
    queued job on the same base model joins, teams in turn (``job_claim_next``). Each job
    leaves the batch the step its last variant ends and its drafts are saved at once;
    a cancelled job leaves at the next step. Partial text goes to Redis every
    PARTIAL_EVERY_SECONDS. ``observer(event, job_id)`` ("text": first partial text,
    "drafts": saved) lets the benchmark time what users see.
    """

    def __init__(self, *, engine: Any, base_model: str, worker: str,
                 observer: Observer | None = None) -> None:
        self.engine = engine
        self.base_model = base_model
        self.worker = worker
        self.observer = observer
        self.batch = engine.batch(on_partial=self._publish, partial_every=PARTIAL_EVERY_SECONDS)
        self.running: dict[int, _Running] = {}  # job id -> claim and batch key
        self.lost: set[int] = set()  # claims the heartbeat found taken or cancelled
        self.shown: set[int] = set()
        self.jobs_done = 0
        self.drafts = 0
        self._queue_seen: int | None = None
        self._polled = 0.0
        self._cancel_checked = 0.0

    def run(self, claim: Any, inputs: dict[str, Any]) -> str:
        admit_until = time.monotonic() + settings.GENERATION_TASK_TIME_LIMIT / 2
        self._join(claim, inputs)
        with heartbeat(self._beat, every=max(1.0, settings.GENERATION_STUCK_AFTER / 4),
                       name="job-heartbeat"):
            try:
                while True:
                    if time.monotonic() < admit_until:
                        self._admit()
                    if self.batch.idle:
                        break
                    for key, result in self.batch.step():
                        self._complete(key, result)
                    self._drop_cancelled()
            except Exception as exc:
                self._give_back_all(exc)
                return "failed"
        if not self.jobs_done:
            return "failed"
        return f"wrote {self.drafts} drafts for {self.jobs_done} jobs"

    # -- joining and leaving ---------------------------------------------------------

    def _admit(self) -> None:
        version = jobs.queue_version()
        now = time.monotonic()
        if (not self.batch.idle and version is not None and version == self._queue_seen
                and now - self._polled < ADMIT_POLL_SECONDS):
            return
        self._queue_seen, self._polled = version, now
        while len(self.running) < settings.GENERATION_MICRO_BATCH:
            room = self.engine.max_batch_rows - self.batch.rows
            claim = jobs.job_claim_next(worker=self.worker, base_model=self.base_model,
                                        room=room if self.running else 10**6)
            if claim is None:
                return
            try:
                inputs = jobs.job_inputs(job_id=claim.job_id)
            except Exception as exc:  # noqa: BLE001 - this job's own trouble
                _give_back(claim, exc)
                continue
            self._join(claim, inputs)

    def _join(self, claim: Any, inputs: dict[str, Any]) -> None:
        try:
            key = self.batch.add(to_request(inputs))
        except Exception as exc:  # noqa: BLE001 - refused alone, with its own error
            logger.warning("job %s refused: %s: %s", claim.job_id, type(exc).__name__, exc)
            _give_back(claim, exc)
            return
        self.running[claim.job_id] = _Running(claim, key, inputs["knowledge"])

    def _complete(self, key: int, result: Any) -> None:
        job_id = int(result.request_id)
        running = self.running.pop(job_id, None)
        if running is None:
            return
        uses = knowledge_uses_of(running.knowledge, result.knowledge_used)
        if jobs.job_complete(claim=running.claim, prompt=result.prompt,
                             drafts=to_drafts(result), timings=result.timings, knowledge=uses):
            self.jobs_done += 1
            self.drafts += len(result.drafts)
            if self.observer is not None:
                self.observer("drafts", job_id)

    def _drop_cancelled(self) -> None:
        now = time.monotonic()
        if now - self._cancel_checked < CANCEL_CHECK_SECONDS and not self.lost:
            return
        self._cancel_checked = now
        cancelled = jobs.jobs_cancelled(job_ids=list(self.running))
        for job_id in (cancelled | self.lost) & set(self.running):
            running = self.running.pop(job_id)
            self.batch.cancel(running.key)
            if job_id in cancelled:  # what this batch published since the cancel
                jobs.job_partial_clear(job_id=job_id)
            logger.info("job %s left the batch: cancelled or taken over", job_id)

    def _beat(self) -> None:
        for job_id, running in list(self.running.items()):
            if not jobs.job_heartbeat(claim=running.claim):
                self.lost.add(job_id)

    def _publish(self, texts: list[Any]) -> None:
        by_job: dict[int, list[Any]] = {}
        for t in texts:
            by_job.setdefault(int(t.request_id), []).append(t)
        for job_id, parts in by_job.items():
            if job_id not in self.running or job_id in self.lost:
                continue
            jobs.job_partial_publish(job_id=job_id, seconds=parts[0].seconds, variants=[
                {"variant": p.variant, "text": p.text, "tokens": p.completion_tokens,
                 "max": p.max_new_tokens} for p in parts])
            if self.observer is not None and job_id not in self.shown:
                self.shown.add(job_id)
                self.observer("text", job_id)

    # -- failures ----------------------------------------------------------------------

    def _give_back_all(self, exc: BaseException) -> None:
        # A fault while the batch decodes concerns every job in it: none loses its drafts
        # to another's request (each was checked alone when it joined); each job retries
        # within its own attempts.
        logger.warning("batch on %s failed: %s: %s", self.base_model, type(exc).__name__, exc)
        for running in self.running.values():
            if running.claim.job_id not in self.lost:
                _give_back(running.claim, exc)
        self.running.clear()


def _give_back(claim: Any, exc: BaseException) -> None:
    """Fail the job for good (a permanent error, or its last attempt), or put it back in
    the queue and send it again (it retries within its attempts)."""
    message = f"{type(exc).__name__}: {exc}"
    if _is_permanent(exc) or claim.attempts >= settings.GENERATION_MAX_ATTEMPTS:
        error = message if _is_permanent(exc) else (
            f"Failed {claim.attempts} times; last error: {message}")
        jobs.job_fail(job_id=claim.job_id, token=claim.token, error=error,
                      failure=failure_of(exc))
    elif jobs.job_release(claim=claim, error=message):
        jobs.job_send(claim.job_id)


@shared_task(
    bind=True,
    name="studio.tasks.generation.generate_job",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # attempts are counted on the job row (GENERATION_MAX_ATTEMPTS)
    time_limit=settings.GENERATION_TASK_TIME_LIMIT,
    soft_time_limit=max(1, settings.GENERATION_TASK_TIME_LIMIT - 30),
)
def generate_job(self: Any, job_id: int) -> str:
    """Write the job, and every job that joins its batch meanwhile (see BatchRun)."""
    # The process id too: admins (and tests) can tell which process wrote a job.
    worker = f"{self.request.hostname or 'local'} pid {os.getpid()}:{self.request.id or '-'}"
    claim = jobs.job_claim(job_id=job_id, worker=worker)
    if claim is None:
        return "nothing to do"
    return generation_run(claim=claim, worker=worker)


def generation_run(*, claim: Any, worker: str, observer: Observer | None = None) -> str:
    """Load what the claimed job needs and run a batch from it until no job is left."""
    try:
        with heartbeat(lambda: jobs.job_heartbeat(claim=claim),
                       every=max(1.0, settings.GENERATION_STUCK_AFTER / 4), name="job-heartbeat"):
            inputs = jobs.job_inputs(job_id=claim.job_id)
            engine = engine_for(inputs["base_model"])
    except Exception as exc:  # noqa: BLE001 - the job's own run fails or retries
        logger.warning("job %s failed: %s: %s", claim.job_id, type(exc).__name__, exc)
        _give_back(claim, exc)
        return "failed"
    run = BatchRun(engine=engine, base_model=inputs["base_model"], worker=worker,
                   observer=observer)
    return run.run(claim, inputs)


@shared_task(
    bind=True,
    name="studio.tasks.generation.check_model_version",
    # At most once: a check that kills its worker is not worth a redelivery loop; the
    # version stays "checking" and the admin asks again.
    acks_late=False,
    time_limit=settings.GENERATION_TASK_TIME_LIMIT,
    soft_time_limit=max(1, settings.GENERATION_TASK_TIME_LIMIT - 30),
)
def check_model_version(self: Any, version_id: int) -> str:
    """Load the version's adapter with this worker's serving engine, write a few tokens
    and record the outcome on the version (promote needs it to pass)."""
    from generation.adapters import AdapterRef, library_versions
    from generation.errors import GenerationError

    target = versions.model_version_check_target(version_id=version_id)
    if target is None:
        return "nothing to check"
    where = f"generation worker {self.request.hostname or 'local'} pid {os.getpid()}"
    try:
        engine = engine_for(target["base_model"])
    except GenerationError as exc:
        versions.model_version_check_record(version_id=version_id, check={
            "ok": False, "error": f"the base model could not be loaded: {exc}",
            "info": {"where": where, "libraries": library_versions(),
                     "base_model": target["base_model"]},
        })
        return "failed"
    adapter = target["adapter"]
    check = engine.check_adapter(AdapterRef(adapter["path"], adapter["sha256"]))
    versions.model_version_check_record(version_id=version_id,
                                        check=check_record(check, where=where))
    if not check.ok:
        logger.warning("version %s failed its load check: %s", version_id, check.error)
    return "ok" if check.ok else "failed"
