"""Generation jobs in the database: claim, progress, complete, fail, reconcile.

The Celery task (studio/tasks/generation.py) runs the model; everything that touches
rows is here. Exactly-once rests on two database facts, not on the broker:

* a job is claimed by a conditional UPDATE (``queued``, or ``running`` with a heartbeat
  older than GENERATION_STUCK_AFTER), which writes a fresh claim token; a second
  delivery of the same job finds nothing to claim and does nothing;
* drafts are saved in one transaction that first checks the claim token is still the
  job's, and ``unique(job, variant)`` backs it: a worker that lost its claim saves
  nothing.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from studio.models import Brief, Draft, GenerationJob, Project
from studio.services.claims import Claim, stale_before
from studio.services.webhooks import webhook_drafts_ready

logger = logging.getLogger(__name__)

# Few-shot examples and reference texts taken from a project per job.
FEW_SHOT_EXAMPLES = 3
REFERENCE_TEXTS = 200


def _stale_before() -> Any:
    return stale_before(settings.GENERATION_STUCK_AFTER)


def job_claim(*, job_id: int, worker: str) -> Claim | None:
    """Take the job for this worker, or return None when someone else has it or it is done."""
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = (
        GenerationJob.objects.filter(pk=job_id)
        .filter(
            Q(status=GenerationJob.Status.QUEUED)
            | Q(status=GenerationJob.Status.RUNNING, heartbeat_at__lt=_stale_before())
        )
        .update(
            status=GenerationJob.Status.RUNNING,
            attempts=F("attempts") + 1,
            claim_token=token,
            worker=worker[:200],
            started_at=now,
            heartbeat_at=now,
            progress_done=0,
        )
    )
    if not claimed:
        return None
    job = GenerationJob.objects.only("attempts", "brief_id").get(pk=job_id)
    if job.attempts > settings.GENERATION_MAX_ATTEMPTS:
        # It was claimed this many times without finishing: each attempt killed its
        # worker or hung. Stop here rather than take down workers forever.
        job_fail(job_id=job_id, token=token,
                 error=f"Gave up after {job.attempts - 1} attempts: the worker stopped "
                 "each time while writing (crash, out of memory or time limit).")
        return None
    Brief.objects.filter(pk=job.brief_id, status=Brief.Status.QUEUED).update(
        status=Brief.Status.GENERATING
    )
    return Claim(job_id=job_id, token=token, attempts=job.attempts)


def job_claim_batch_mates(*, claim: Claim, worker: str, limit: int) -> list[Claim]:
    """Claim up to ``limit`` other queued jobs on the same base model (micro-batching).

    Their own messages arrive later and find them done.
    """
    if limit <= 0:
        return []
    base_model = GenerationJob.objects.values_list("base_model", flat=True).get(pk=claim.job_id)
    candidates = (
        GenerationJob.objects.filter(status=GenerationJob.Status.QUEUED, base_model=base_model)
        .exclude(pk=claim.job_id)
        .order_by("created_at")
        .values_list("pk", flat=True)[: limit * 2]
    )
    mates: list[Claim] = []
    for job_id in candidates:
        if len(mates) >= limit:
            break
        mate = job_claim(job_id=job_id, worker=worker)
        if mate is not None:
            mates.append(mate)
    return mates


def job_heartbeat(*, claim: Claim, done: int | None = None) -> bool:
    """Mark the job alive (and its progress); False when the claim was lost."""
    fields: dict[str, Any] = {"heartbeat_at": timezone.now()}
    if done is not None:
        fields["progress_done"] = done
    return bool(
        GenerationJob.objects.filter(pk=claim.job_id, claim_token=claim.token,
                                     status=GenerationJob.Status.RUNNING).update(**fields)
    )


def job_inputs(*, job_id: int) -> dict[str, Any]:
    """Everything the model needs for a job, as plain data (the task turns it into a request).

    Few-shot examples and the reference corpus come from this project only: another
    project's or team's text never reaches the prompt.
    """
    job = GenerationJob.objects.select_related("brief__project", "model_version").get(pk=job_id)
    brief: Brief = job.brief
    project: Project = brief.project
    approved = (
        Draft.objects.filter(project=project, status=Draft.Status.APPROVED)
        .select_related("job__brief")
        .order_by("-decided_at")
    )
    examples = [
        {"brief": _brief_fields(d.job.brief), "text": d.current_text}
        for d in approved.filter(job__brief__kind=brief.kind)[:FEW_SHOT_EXAMPLES]
    ]
    reference = list(approved.values_list("current_text", flat=True)[:REFERENCE_TEXTS])
    version = job.model_version
    return {
        "job_id": job.pk,
        "base_model": job.base_model,
        "adapter": (
            {"path": version.adapter_path, "sha256": version.adapter_sha256}
            if version is not None and version.adapter_path
            else None
        ),
        "brief": _brief_fields(brief),
        "voice": {
            "brand_voice": project.brand_voice,
            "must": project.must_rules,
            "must_not": project.must_not_rules,
            "banned_terms": project.banned_term_list,
        },
        "examples": examples,
        "reference_corpus": reference,
        "variants": job.variants,
        "seed": job.seed,
    }


def _brief_fields(brief: Brief) -> dict[str, Any]:
    return {
        "kind": brief.kind,
        "title": brief.title,
        "instructions": brief.instructions,
        "audience": brief.audience,
        "tone": brief.tone,
        "keywords": list(brief.keywords or []),
        "target_words": brief.target_words,
        "source_text": brief.source_text,
        "extra": dict(brief.extra or {}),
    }


def _storable(text: str) -> str:
    # Model output is arbitrary bytes decoded as text; PostgreSQL refuses NUL in text.
    return text.replace("\x00", "\ufffd")


def job_complete(
    *, claim: Claim, prompt: str, drafts: list[dict[str, Any]], timings: dict[str, float]
) -> bool:
    """Save all drafts of a job at once. False (and nothing saved) when the claim was lost."""
    with transaction.atomic():
        job = (
            GenerationJob.objects.select_for_update(of=("self",))
            .select_related("brief__project")
            .get(pk=claim.job_id)
        )
        if job.status != GenerationJob.Status.RUNNING or job.claim_token != claim.token:
            logger.info("job %s: claim lost, drafts of this run dropped", claim.job_id)
            return False
        saved = Draft.objects.bulk_create(
            [
                Draft(
                    job=job,
                    project_id=job.brief.project_id,
                    variant=d["variant"],
                    text=_storable(d["text"]),
                    current_text=_storable(d["text"]),
                    prompt=prompt,
                    params=d["params"],
                    seed=d["seed"],
                    prompt_tokens=d["prompt_tokens"],
                    completion_tokens=d["completion_tokens"],
                    flags=d["flags"],
                    flag_codes=sorted({f["code"] for f in d["flags"]}),
                )
                for d in drafts
            ]
        )
        now = timezone.now()
        job.status = GenerationJob.Status.SUCCEEDED
        job.progress_done = len(drafts)
        job.finished_at = now
        job.error = ""
        job.timings = timings
        job.save(update_fields=["status", "progress_done", "finished_at", "error", "timings"])
        Brief.objects.filter(pk=job.brief_id).exclude(status=Brief.Status.DONE).update(
            status=Brief.Status.IN_REVIEW, updated_at=now
        )
        webhook_drafts_ready(job=job, project=job.brief.project, drafts=saved)
    return True


def job_release(*, claim: Claim, error: str) -> bool:
    """Give a job back to the queue after a transient error (the task retries it)."""
    return bool(
        GenerationJob.objects.filter(pk=claim.job_id, claim_token=claim.token,
                                     status=GenerationJob.Status.RUNNING)
        .update(status=GenerationJob.Status.QUEUED, error=error[:2000], claim_token="",
                sent_at=timezone.now())
    )


def job_fail(*, job_id: int, token: str, error: str) -> bool:
    """Mark a job failed for good; its brief shows the error."""
    with transaction.atomic():
        updated = GenerationJob.objects.filter(
            pk=job_id, claim_token=token, status=GenerationJob.Status.RUNNING
        ).update(status=GenerationJob.Status.FAILED, error=error[:2000],
                 finished_at=timezone.now())
        if updated:
            job = GenerationJob.objects.only("brief_id").get(pk=job_id)
            # A brief that already has drafts from an earlier job stays in review.
            if not Draft.objects.filter(job__brief_id=job.brief_id).exists():
                Brief.objects.filter(pk=job.brief_id).update(status=Brief.Status.FAILED)
    return bool(updated)


def jobs_reconcile() -> list[int]:
    """Re-send jobs whose message may be lost; return their ids.

    * queued and never sent (the broker was down at submit), or sent longer ago than
      GENERATION_STUCK_AFTER (the message was lost, e.g. Redis restarted empty);
    * running with a heartbeat older than GENERATION_STUCK_AFTER (the worker died;
      Redis would only redeliver after its visibility timeout, hours later).
    """
    from studio.services.briefs import job_send

    stale = _stale_before()
    ids = list(
        GenerationJob.objects.filter(
            Q(status=GenerationJob.Status.QUEUED, sent_at__isnull=True)
            | Q(status=GenerationJob.Status.QUEUED, sent_at__lt=stale)
            | Q(status=GenerationJob.Status.RUNNING, heartbeat_at__lt=stale)
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:500]
    )
    sent = [job_id for job_id in ids if job_send(job_id)]
    if sent:
        logger.info("reconciler re-sent jobs %s", sent)
    return sent
