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
        KINDS,
        BriefInput,
        FewShotExample,
        ProjectVoice,
        max_new_tokens_for,
    )

    def brief(fields: dict[str, Any]) -> BriefInput:
        target = fields["target_words"] or KINDS[fields["kind"]].default_target_words
        return BriefInput(
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
                                              cap=settings.GENERATION_MAX_NEW_TOKENS)
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


def _refuse_bad_requests(
    engine: Any, claims: list[Any], inputs: list[dict[str, Any]]
) -> tuple[list[Any], list[Any]]:
    """Check each job of a micro-batch on its own (its brief, prompt and adapter) and fail
    only the bad ones, each with its own error: jobs of other projects and teams share
    the batch and must neither fail nor see another's error."""
    kept: list[Any] = []
    requests: list[Any] = []
    for c, i in zip(claims, inputs, strict=True):
        try:
            request = to_request(i)
            engine.prepare(request)
        except Exception as exc:
            if not _is_permanent(exc):
                raise
            logger.warning("job %s refused: %s: %s", c.job_id, type(exc).__name__, exc)
            jobs.job_fail(job_id=c.job_id, token=c.token, error=f"{type(exc).__name__}: {exc}",
                          failure=failure_of(exc))
            continue
        kept.append(c)
        requests.append(request)
    return kept, requests


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
    # The process id too: admins (and tests) can tell which process wrote a job.
    worker = f"{self.request.hostname or 'local'} pid {os.getpid()}:{self.request.id or '-'}"
    claim = jobs.job_claim(job_id=job_id, worker=worker)
    if claim is None:
        return "nothing to do"
    mates = jobs.job_claim_batch_mates(
        claim=claim, worker=worker, limit=settings.GENERATION_MICRO_BATCH - 1
    )
    claims = [claim, *mates]
    shared = False
    try:
        with heartbeat(lambda: [jobs.job_heartbeat(claim=c) for c in claims],
                       every=max(1.0, settings.GENERATION_STUCK_AFTER / 4), name="job-heartbeat"):
            inputs = [jobs.job_inputs(job_id=c.job_id) for c in claims]
            shared = True  # until here an error concerns every job: they share the base model
            engine = engine_for(inputs[0]["base_model"])
            shared = False
            claims, requests = _refuse_bad_requests(engine, claims, inputs)
            if not claims:
                return "failed"
            total = sum(r.variants for r in requests)

            def progress(done: int, _total: int) -> None:
                for c, r in zip(claims, requests, strict=True):
                    jobs.job_heartbeat(claim=c, done=min(r.variants, done * r.variants // total))

            results = engine.generate(requests, progress=progress)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        logger.warning("job %s failed: %s", job_id, message)
        if _is_permanent(exc) and (shared or len(claims) == 1):
            for c in claims:
                jobs.job_fail(job_id=c.job_id, token=c.token, error=message,
                              failure=failure_of(exc))
            return "failed"
        # Anything else, or a permanent error that could be any one job's (each was checked
        # on its own, so this is rare): nobody fails for another's request. The mates run
        # again on their own; this job retries within its attempts.
        for mate in mates:
            if jobs.job_release(claim=mate, error=message):
                jobs.job_send(mate.job_id)
        if claim.attempts >= settings.GENERATION_MAX_ATTEMPTS:
            jobs.job_fail(job_id=claim.job_id, token=claim.token,
                          error=f"Failed {claim.attempts} times; last error: {message}",
                          failure=failure_of(exc))
            return "failed"
        jobs.job_release(claim=claim, error=message)
        raise self.retry(exc=exc, countdown=min(60, 2 ** claim.attempts)) from exc
    knowledge = {i["job_id"]: i["knowledge"] for i in inputs}
    for c, result in zip(claims, results, strict=True):
        jobs.job_complete(claim=c, prompt=result.prompt, drafts=to_drafts(result),
                          timings=result.timings,
                          knowledge=knowledge_uses_of(knowledge[c.job_id], result.knowledge_used))
    return f"wrote {sum(len(r.drafts) for r in results)} drafts for {len(claims)} jobs"


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
