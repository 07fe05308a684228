"""Generation jobs in the database: send, claim, progress, complete, fail, reconcile.

The Celery task (studio/tasks/generation.py) runs the model; everything that touches
rows is here, on the lifecycle all jobs share (studio.services.jobs, with
GENERATION_STUCK_AFTER and GENERATION_MAX_ATTEMPTS). Exactly-once rests on two database
facts, not on the broker:

* a job is claimed by a conditional UPDATE that writes a fresh claim token; a second
  delivery of the same job finds nothing to claim and does nothing;
* drafts are saved in one transaction that first checks the claim token is still the
  job's, and ``unique(job, variant)`` backs it: a worker that lost its claim saves
  nothing.

So a duplicate message is harmless, but not free: the reconciler re-sends a job only
when its message is gone. Each send first sets a key in the broker's Redis
(``studio:generation:waiting:<job id>``) that the worker taking the message deletes, so
a job still waiting behind others keeps its key and is left alone, while Redis losing its
data (a restart without persistence, a flush) loses the key with the message and the job
is re-sent at the next reconcile. The key expires after the job's age, at least
GENERATION_RESEND_AFTER and at most an hour: the bound on re-sending a job whose message
went missing while its key stayed (a purged queue, a worker killed between taking the
message and claiming the job).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from studio import live
from studio.models import (
    Brief,
    Draft,
    GenerationJob,
    ModelVersion,
    Project,
    Team,
    TrainingExample,
)
from studio.permissions import Need, generation_job_for_user
from studio.selectors.knowledge import knowledge_inputs
from studio.selectors.notes import project_voice
from studio.services import jobs as lifecycle
from studio.services.assignments import job_assignee
from studio.services.audit import audit_record
from studio.services.claims import Claim
from studio.services.errors import WrongState
from studio.services.knowledge import knowledge_uses_record
from studio.services.notifications import notify_drafts_ready
from studio.services.webhooks import webhook_drafts_ready
from studio.validators import CONTROL_CHARS

logger = logging.getLogger(__name__)

# Few-shot examples taken from a project per job.
FEW_SHOT_EXAMPLES = 3
# Longest a job's "message waiting" key lives (see the module docstring).
RESEND_WINDOW_MAX = 3600
WAITING_KEY = "studio:generation:waiting:{}"
# Jobs re-sent by one reconciler run at most; the rest wait for the next run.
RECONCILE_BATCH = 500

def _broker_redis() -> redis.Redis | None:
    """The Redis the job messages wait in, or None when the broker is not Redis."""
    return live.broker_redis()


def _resend_window(created_at: datetime | None) -> int:
    """Seconds a sent job may wait before it is sent again though its key is still there:
    its age (so a job is re-sent fewer times the longer it waits), within bounds."""
    age = int((timezone.now() - created_at).total_seconds()) if created_at else 0
    least = settings.GENERATION_RESEND_AFTER
    return min(max(age, least), max(least, RESEND_WINDOW_MAX))


def job_mark_waiting(*, job_id: int) -> None:
    """Record that a message for the job is about to wait in the broker.

    ``job_send`` calls it just before publishing, so the key is never missing while the
    message waits. Raises ``redis.RedisError`` when the broker's Redis is unreachable
    (the publish would fail too).
    """
    client = _broker_redis()
    if client is None:
        return
    created = GenerationJob.objects.filter(pk=job_id).values_list("created_at", flat=True)
    with client.pipeline(transaction=False) as pipe:
        pipe.set(WAITING_KEY.format(job_id), 1, ex=_resend_window(created.first()))
        pipe.incr(live.QUEUED_KEY)  # wakes a running worker's batch to look for it
        pipe.execute()


def _message_taken(job_id: int) -> None:
    # Before the claim, so a claim that fails (database down) leaves the job to be re-sent
    # at once: its message is acked with the failed task.
    try:
        client = _broker_redis()
        if client is not None:
            client.delete(WAITING_KEY.format(job_id))
    except redis.RedisError as exc:  # the key expires on its own
        logger.info("job %s: could not clear its waiting key: %s", job_id, exc)


def _waiting(job_ids: list[int]) -> set[int] | None:
    """The jobs among ``job_ids`` whose message is waiting in the broker; None when that
    cannot be known (the broker is not Redis, or Redis does not answer)."""
    try:
        client = _broker_redis()
        if client is None:
            return None
        values = client.mget([WAITING_KEY.format(pk) for pk in job_ids]) if job_ids else []
    except redis.RedisError as exc:
        logger.info("reconciler cannot read waiting keys: %s", exc)
        return None
    return {pk for pk, value in zip(job_ids, values, strict=True) if value is not None}


def job_claim(*, job_id: int, worker: str) -> Claim | None:
    """Take the job whose message this worker was just given, or return None when someone
    else has it or it is done."""
    _message_taken(job_id)
    return _claim(job_id=job_id, worker=worker)


def _claim(*, job_id: int, worker: str) -> Claim | None:
    claim = lifecycle.job_claim_row(kind=GENERATION, job_id=job_id, worker=worker[:200],
                                    started_at=timezone.now(), progress_done=0)
    if claim is None:
        return None
    if lifecycle.job_over_attempts(kind=GENERATION, claim=claim):
        errors = GenerationJob.objects.values_list("attempt_errors", flat=True).get(pk=job_id)
        job_fail(job_id=job_id, token=claim.token,
                 error=gave_up_message(claim.attempts - 1, errors),
                 failure=GenerationJob.Failure.GAVE_UP, record_attempt=False)
        return None
    brief_id, team_id = GenerationJob.objects.values_list(
        "brief_id", "brief__project__team_id").get(pk=job_id)
    Brief.objects.filter(pk=brief_id, status=Brief.Status.QUEUED).update(
        status=Brief.Status.GENERATING
    )
    # The team goes to the back of the turn order (see job_claim_next).
    Team.objects.filter(pk=team_id).update(generation_turn_at=timezone.now())
    live.partial_clear(job_id)  # an earlier attempt's text, if its worker died
    return claim


def job_claim_next(*, worker: str, base_model: str, room: int) -> Claim | None:
    """Take the next queued job on ``base_model`` for a running batch, teams in turn.

    The next job is the oldest queued job of the team whose job was taken longest ago
    (``Team.generation_turn_at``; a team never served comes first), so a team with a
    backlog of 100 jobs gets one job taken, then every other waiting team gets one, and
    so on: round-robin across teams, first come first served within a team. None when
    nothing waits, or when that job has more variants than ``room`` (it is not skipped:
    the batch takes it once enough rows have finished, so big jobs never starve).
    Its own message arrives later and finds it taken.
    """
    for _ in range(5):  # another worker may take the same job first: try the next one
        row = (
            GenerationJob.objects.filter(status=GenerationJob.Status.QUEUED,
                                         base_model=base_model)
            .order_by(F("brief__project__team__generation_turn_at").asc(nulls_first=True),
                      "created_at", "pk")
            .values_list("pk", "variants")
            .first()
        )
        if row is None or row[1] > room:
            return None
        claim = _claim(job_id=row[0], worker=worker)
        if claim is not None:
            return claim
    return None


def job_heartbeat(*, claim: Claim, done: int | None = None) -> bool:
    """Mark the job alive (and its progress); False when the claim was lost."""
    fields: dict[str, Any] = {} if done is None else {"progress_done": done}
    return lifecycle.job_heartbeat_row(kind=GENERATION, claim=claim, **fields)


def job_inputs(*, job_id: int) -> dict[str, Any]:
    """Everything the model needs for a job, as plain data (the task turns it into a request).

    Few-shot examples, knowledge passages and the reference corpus come from this
    project only: another project's or team's text never reaches the prompt.
    """
    job = GenerationJob.objects.select_related(
        "brief__project", "model_version__snapshot").get(pk=job_id)
    brief: Brief = job.brief
    project: Project = brief.project
    approved = (
        Draft.objects.filter(project=project, status=Draft.Status.APPROVED)
        .select_related("job__brief")
        .order_by("-decided_at", "-pk")
    )
    few_shot = list(approved.filter(job__brief__kind=brief.kind)[:FEW_SHOT_EXAMPLES])
    examples = [{"brief": _brief_fields(d.job.brief), "text": d.current_text} for d in few_shot]
    version = job.model_version
    reference = reference_texts(project=project, version=version,
                                first=[d.current_text for d in few_shot])
    return {
        "job_id": job.pk,
        "base_model": job.base_model,
        "adapter": (
            {"path": version.adapter_path, "sha256": version.adapter_sha256}
            if version is not None and version.adapter_path
            else None
        ),
        "brief": _brief_fields(brief),
        "language": project.language,
        # Accepted preference notes join the style rules here, so they reach the prompt
        # and the checks from the next job on, before any retrain.
        "voice": project_voice(project),
        "examples": examples,
        "knowledge": knowledge_inputs(brief=brief),
        "reference_corpus": reference,
        "variants": job.variants,
        "seed": job.seed,
    }


def reference_texts(
    *, project: Project, version: ModelVersion | None, first: Iterable[str] = ()
) -> list[str]:
    """The project's texts a draft is checked against for near-copies, in order, up to
    GENERATION_REFERENCE_CHARS characters in all (each distinct text once):

    1. ``first``: the prompt's few-shot examples, the texts likeliest to be copied;
    2. the completions of the training snapshot of ``version`` (the model writing the
       draft), newest first: what it may have memorised, examples excluded since
       included (it was trained on them all the same);
    3. the project's approved texts, newest first.

    The cap bounds the check's time and memory (the index is built for every job); the
    setting's comment in ``studio/settings.py`` gives the measured cost.
    """
    budget = settings.GENERATION_REFERENCE_CHARS
    texts: list[str] = []
    seen: set[str] = set()
    sources: list[Iterable[str]] = [first]
    snapshot = version.snapshot if version is not None else None
    if snapshot is not None:
        trained = TrainingExample.objects.filter(project=project).exclude(completion="")
        trained = (
            trained.filter(pk__in=snapshot.example_ids) if snapshot.example_ids is not None
            # A snapshot from before the ids were kept: the examples there were when it was
            # frozen (perhaps a few excluded then: project text all the same).
            else trained.filter(created_at__lte=snapshot.created_at)
        )
        sources.append(_chunked(
            trained.order_by("-created_at", "-pk").values_list("completion", flat=True)))
    sources.append(_chunked(
        Draft.objects.filter(project=project, status=Draft.Status.APPROVED)
        .order_by("-decided_at", "-pk").values_list("current_text", flat=True)
    ))
    for source in sources:
        # Reading stops at twice the cap per source: texts that do not fit or were already
        # taken (an approval is also a snapshot example) never make it scan a whole corpus.
        scanned = 0
        for text in source:
            if budget <= 0:
                return texts
            scanned += len(text)
            if scanned > 2 * settings.GENERATION_REFERENCE_CHARS:
                break
            if not text.strip() or text in seen or len(text) > budget:
                continue
            seen.add(text)
            texts.append(text)
            budget -= len(text)
    return texts


def _chunked(query: Any, size: int = 500) -> Iterator[str]:
    # Rows in pages: only as many as the budget takes are read, whatever the corpus size.
    offset = 0
    while True:
        page = list(query[offset:offset + size])
        yield from page
        if len(page) < size:
            return
        offset += size


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


def storable_text(text: str) -> str:
    # Model output is arbitrary bytes decoded as text; PostgreSQL refuses NUL in text,
    # and an editor who keeps the text must not be refused for characters the input
    # policy forbids (studio.validators): each becomes U+FFFD, visibly. One character for
    # one, so the checks' flag spans still point at the same text.
    return CONTROL_CHARS.sub("\ufffd", text)


def job_complete(
    *, claim: Claim, prompt: str, drafts: list[dict[str, Any]], timings: dict[str, float],
    knowledge: list[dict[str, Any]] | None = None,
) -> bool:
    """Save all drafts of a job at once, with the knowledge passages it retrieved
    (``studio.selectors.knowledge.knowledge_uses_of``). False (and nothing saved) when
    the claim was lost."""
    with transaction.atomic():
        job = (
            GenerationJob.objects.select_for_update(of=("self",))
            .select_related("brief__project")
            .get(pk=claim.job_id)
        )
        if job.status != GenerationJob.Status.RUNNING or job.claim_token != claim.token:
            logger.info("job %s: claim lost, drafts of this run dropped", claim.job_id)
            return False
        assignee = job_assignee(job=job)
        saved = Draft.objects.bulk_create(
            [
                Draft(
                    job=job,
                    project_id=job.brief.project_id,
                    assigned_to_id=assignee,
                    variant=d["variant"],
                    text=storable_text(d["text"]),
                    current_text=storable_text(d["text"]),
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
        knowledge_uses_record(job_id=job.pk, uses=knowledge or [])
        _brief_settle(job.brief_id)
        webhook_drafts_ready(job=job, project=job.brief.project, drafts=saved)
        notify_drafts_ready(job=job, drafts=saved)
    live.partial_clear(claim.job_id)  # the drafts are rows now
    return True


def _brief_settle(brief_id: int) -> None:
    """Set a brief's status from its jobs after one of them ended, so the badge always
    agrees with them: another run still queued or running decides; else drafts mean "in
    review" (or "done" stays done); else the last run's end ("failed" or "cancelled")."""
    jobs = GenerationJob.objects.filter(brief_id=brief_id)
    active = set(jobs.active().values_list("status", flat=True))
    brief = Brief.objects.filter(pk=brief_id)
    if active:
        status = (Brief.Status.GENERATING if GenerationJob.Status.RUNNING in active
                  else Brief.Status.QUEUED)
    elif Draft.objects.filter(job__brief_id=brief_id).exists():
        brief.exclude(status__in=[Brief.Status.DONE, Brief.Status.IN_REVIEW]).update(
            status=Brief.Status.IN_REVIEW, updated_at=timezone.now())
        return
    else:
        last = jobs.order_by("-created_at", "-pk").values_list("status", flat=True).first()
        status = (Brief.Status.CANCELLED if last == GenerationJob.Status.CANCELLED
                  else Brief.Status.FAILED)
    brief.exclude(status=status).update(status=status, updated_at=timezone.now())


def job_cancel(*, user: Any, job_id: int) -> GenerationJob:
    """Cancel a queued or running generation job (marketers, editors, admins).

    The row is cancelled at once (the page says so on its next poll) and its claim
    token cleared, so a worker still writing it can save nothing; a flag in Redis makes
    that worker drop the job's rows at its next decoding step. Drafts of earlier runs
    stay. Raises WrongState when the job has already ended (a cancel racing the drafts'
    save loses cleanly: whichever commits first wins, nothing is half-written).
    """
    job = generation_job_for_user(user, job_id, need=Need.SUBMIT)
    with transaction.atomic():
        ended = (
            GenerationJob.objects.filter(pk=job.pk, status__in=GenerationJob.ACTIVE)
            .update(status=GenerationJob.Status.CANCELLED, claim_token="",
                    finished_at=timezone.now(), cancelled_by=user)
        )
        if not ended:
            job.refresh_from_db(fields=["status"])
            raise WrongState(f"This run has already ended ({job.get_status_display().lower()}); "
                             "there is nothing to cancel.")
        _brief_settle(job.brief_id)
        audit_record(actor=user, team=job.brief.project.team, verb="generation.cancel",
                     obj=job, before={"status": job.status},
                     after={"status": GenerationJob.Status.CANCELLED})
    live.cancel_flag_set(job.pk)
    live.partial_clear(job.pk)
    job.refresh_from_db()
    return job


def jobs_cancelled(*, job_ids: list[int]) -> set[int]:
    """Which of a worker's running jobs were cancelled (their Redis flags: one read)."""
    return live.cancel_flags(job_ids)


def job_partial_clear(*, job_id: int) -> None:
    live.partial_clear(job_id)


def job_partial_publish(*, job_id: int, variants: list[dict[str, Any]], seconds: float) -> None:
    """Publish a running job's text so far (Redis only: never a draft, never reviewable)."""
    live.partial_write(job_id, variants, seconds=seconds)


def gave_up_message(attempts: int, attempt_errors: list[dict[str, Any]]) -> str:
    """What a job that used up its attempts reports: the last real error recorded, and
    whether later attempts stopped without one (a crash or kill records nothing)."""
    return lifecycle.job_gave_up_message(kind=GENERATION, attempts=attempts,
                                         attempt_errors=attempt_errors)


def job_release(*, claim: Claim, error: str) -> bool:
    """Give a job back to the queue after a transient error (the task retries it); the
    error is kept as this attempt's."""
    live.partial_clear(claim.job_id)
    with transaction.atomic():
        released = lifecycle.job_release_row(kind=GENERATION, claim=claim, error=error)
        if released:
            _brief_settle(GenerationJob.objects.values_list("brief_id", flat=True)
                          .get(pk=claim.job_id))
    return released


def job_fail(
    *, job_id: int, token: str, error: str,
    failure: str = GenerationJob.Failure.ERROR, record_attempt: bool = True,
) -> bool:
    """Mark a job failed for good: ``error`` is the technical text (admins see it),
    ``failure`` (a GenerationJob.Failure) what everyone is told. A job that failed
    because its model version could not be loaded marks that version's load check
    failed, so the models page says so and promote refuses it."""
    from studio.services.training.versions import model_version_load_failed

    with transaction.atomic():
        job = lifecycle.job_fail_row(
            kind=GENERATION, claim=Claim(job_id=job_id, token=token, attempts=0),
            error=error, record_attempt=record_attempt,
            only=("brief_id", "model_version_id"), failure=failure,
        )
        if job is None:
            return False
        # A brief that already has drafts from an earlier job goes back to review.
        _brief_settle(job.brief_id)
        if failure == GenerationJob.Failure.MODEL and job.model_version_id is not None:
            model_version_load_failed(version_id=job.model_version_id, error=error)
    live.partial_clear(job_id)
    return True


def job_send(job_id: int) -> bool:
    """Publish the job's task. Called on commit; a broker outage leaves the job queued.

    The reconciler re-sends jobs that stay queued, so a failure here loses nothing.
    The job is marked waiting just before the publish, so the mark is never missing
    while the message waits (the reconciler leaves a waiting job alone); a broker that
    is down fails there.
    """
    return lifecycle.job_send(kind=GENERATION, job_id=job_id)


def jobs_reconcile() -> list[int]:
    """Re-send jobs whose message is gone; return their ids.

    * queued and never sent (the broker was down at submit);
    * queued, last sent longer ago than GENERATION_STUCK_AFTER, and no longer waiting in
      the broker (its waiting key is gone: Redis lost it, or a worker took the message
      and failed before claiming the job), so a job that only waits behind others is left
      alone until its key expires (see the module docstring);
    * running with a heartbeat older than GENERATION_STUCK_AFTER, or none (the worker
      died; Redis would only redeliver after its visibility timeout, hours later), unless
      a message for it is already waiting.

    When the waiting keys cannot be read (the broker is not Redis) a sent job is re-sent
    only once its last send is GENERATION_RESEND_AFTER old.
    """
    return lifecycle.jobs_reconcile(kind=GENERATION, send=job_send)


def _due(rows: list[tuple[int, datetime | None]]) -> list[int]:
    resend_before = timezone.now() - timedelta(seconds=settings.GENERATION_RESEND_AFTER)
    waiting = _waiting([pk for pk, sent_at in rows if sent_at is not None])
    return [
        pk for pk, sent_at in rows
        if sent_at is None
        or (pk not in waiting if waiting is not None else sent_at < resend_before)
    ]


GENERATION = lifecycle.JobKind(
    model=GenerationJob,
    task_name="studio.tasks.generation.generate_job",
    label="job",
    stuck_after_setting="GENERATION_STUCK_AFTER",
    max_attempts_setting="GENERATION_MAX_ATTEMPTS",
    stopped_each_time="the worker stopped each time while writing",
    reconcile_batch=RECONCILE_BATCH,
    before_send=lambda job_id: job_mark_waiting(job_id=job_id),
    due=_due,
)


def queue_version() -> int | None:
    """A number that changes whenever a generation job is sent (None when unknowable):
    a running batch looks for new jobs when it moves."""
    return live.queue_version()
