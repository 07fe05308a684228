"""The lifecycle every queued job row shares (GenerationJob, TrainingJob): send, claim,
heartbeat, release, fail, reconcile.

Exactly-once rests on the database, not on the broker:

* a job is claimed by a conditional UPDATE (``queued``, or ``running`` with a heartbeat
  older than the kind's "stuck after" setting, or none at all), which writes a fresh
  claim token; a second delivery of the same job finds nothing to claim and does nothing;
* every later write of the run (heartbeat, release, fail, finish) is conditional on that
  token, so a worker that lost its claim changes nothing;
* a job claimed more often than its kind's "max attempts" setting gives up: each claim
  was a run that failed, died or hung.

Messages are sent by task name on commit (the route is the task name's, as for any
send), so services never import the tasks that call them. A broker that is down leaves
the job queued; :func:`jobs_reconcile` sends again what has no message.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from studio.services.claims import Claim, stale_before

logger = logging.getLogger(__name__)

# One cut for a job's error text (the columns are TextField: no database limit).
ERROR_CHARS = 4000
# Attempts whose error a job keeps (the last ones), on kinds that keep them.
ATTEMPT_ERRORS_KEPT = 5
# Candidates the reconciler reads per page.
RECONCILE_PAGE = 1000

# Given the rows (id, sent_at) the reconciler found, the ids whose message is gone.
DueFilter = Callable[[list[tuple[int, datetime | None]]], list[int]]


@dataclass(frozen=True)
class JobKind:
    """What differs between kinds of job: their model, task and settings."""

    model: type[models.Model]
    task_name: str
    # What a log line calls one job ("job", "training job").
    label: str
    # Setting names (read at each use, so tests may override them).
    stuck_after_setting: str
    max_attempts_setting: str
    # What a job that used up its attempts without an error says stopped ("the worker
    # stopped each time while writing").
    stopped_each_time: str
    # Seconds after its last send a queued job is looked at again by the reconciler;
    # None: the kind's "stuck after".
    resend_queued_after: Callable[[], int] | None = None
    # Jobs one reconcile sends at most.
    reconcile_batch: int = 500
    # Run just before each publish (generation marks the message as waiting); raising
    # counts as a failed send.
    before_send: Callable[[int], None] | None = None
    # The reconciler's filter of candidates whose message may still be waiting.
    due: DueFilter | None = None

    @property
    def stuck_after(self) -> int:
        return int(getattr(settings, self.stuck_after_setting))

    @property
    def max_attempts(self) -> int:
        return int(getattr(settings, self.max_attempts_setting))

    @property
    def objects(self) -> Any:
        return self.model._default_manager  # noqa: SLF001 - the model's manager, generically

    def stale_before(self) -> datetime:
        return stale_before(self.stuck_after)

    def keeps_attempt_errors(self) -> bool:
        return any(f.name == "attempt_errors" for f in self.model._meta.get_fields())


# Both kinds spell their statuses the same (see studio.models.jobs).
QUEUED = "queued"
RUNNING = "running"
FAILED = "failed"


def claimable(kind: JobKind) -> Q:
    """Rows a run may take: queued, or running with a stale or missing heartbeat."""
    stale = kind.stale_before()
    return (Q(status=QUEUED)
            | Q(status=RUNNING, heartbeat_at__lt=stale)
            # A running row without any heartbeat (written by hand, or by a worker that
            # died between two writes) is as dead as a stale one.
            | Q(status=RUNNING, heartbeat_at__isnull=True))


def job_claim_row(
    *, kind: JobKind, job_id: int, only_if: Q | None = None, **fields: Any,
) -> Claim | None:
    """Claim the row with a fresh token (attempts + 1, heartbeat now, plus ``fields``);
    None when nothing was claimable. Does not check the attempts: see
    :func:`job_gave_up`."""
    token = uuid.uuid4().hex
    now = timezone.now()
    rows = kind.objects.filter(pk=job_id)
    if only_if is not None:
        rows = rows.filter(only_if)
    claimed = rows.filter(claimable(kind)).update(
        status=RUNNING, attempts=F("attempts") + 1, claim_token=token, heartbeat_at=now,
        **fields,
    )
    if not claimed:
        return None
    attempts = kind.objects.values_list("attempts", flat=True).get(pk=job_id)
    return Claim(job_id=job_id, token=token, attempts=attempts)


def job_over_attempts(*, kind: JobKind, claim: Claim) -> bool:
    """True when this claim is one more than the kind allows: each earlier attempt
    failed, killed its worker or hung. The caller fails the job then (rather than take
    down workers forever)."""
    return claim.attempts > kind.max_attempts


def job_gave_up_message(
    *, kind: JobKind, attempts: int, attempt_errors: list[dict[str, Any]] | None = None,
) -> str:
    """What a job that used up its attempts reports: the last real error recorded, and
    whether later attempts stopped without one (a crash or kill records nothing)."""
    last = next((e for e in reversed(attempt_errors or []) if e.get("error")), None)
    if last is None:
        return (f"Gave up after {attempts} attempts: {kind.stopped_each_time} (crash, out "
                "of memory or time limit).")
    message = (f"Gave up after {attempts} attempts. Last error (attempt {last['attempt']}): "
               f"{last['error']}")
    after = int(last["attempt"]) + 1
    if after <= attempts:
        later = f"Attempt {after}" if after == attempts else f"Attempts {after}–{attempts}"
        message += (f" {later} stopped without an error (crash, out of memory or time "
                    "limit).")
    return message


def job_mine(*, kind: JobKind, claim: Claim) -> QuerySet[Any]:
    """The job's row while this claim holds it (running, same token)."""
    return kind.objects.filter(pk=claim.job_id, claim_token=claim.token, status=RUNNING)


def job_heartbeat_row(*, kind: JobKind, claim: Claim, **fields: Any) -> bool:
    """Mark the job alive (with ``fields``); False when the claim was lost."""
    return bool(job_mine(kind=kind, claim=claim).update(heartbeat_at=timezone.now(), **fields))


def _attempt_errors(row: Any, error: str) -> list[dict[str, Any]]:
    kept = [e for e in (row.attempt_errors or []) if e.get("attempt") != row.attempts]
    return [*kept, {"attempt": row.attempts, "error": error[:ERROR_CHARS]}][-ATTEMPT_ERRORS_KEPT:]


def _claimed_row(kind: JobKind, claim: Claim, only: Iterable[str]) -> Any:
    fields = ["attempts", *only]
    if kind.keeps_attempt_errors():
        fields.append("attempt_errors")
    return job_mine(kind=kind, claim=claim).select_for_update().only(*fields).first()


def job_release_row(*, kind: JobKind, claim: Claim, error: str) -> bool:
    """Give the job back to the queue after a transient error (the task retries it); the
    error is kept as this attempt's."""
    with transaction.atomic():
        row = _claimed_row(kind, claim, ())
        if row is None:
            return False
        fields: dict[str, Any] = {"status": QUEUED, "error": error[:ERROR_CHARS],
                                  "claim_token": "", "sent_at": timezone.now()}
        if kind.keeps_attempt_errors():
            fields["attempt_errors"] = _attempt_errors(row, error)
        return bool(job_mine(kind=kind, claim=claim).update(**fields))


def job_fail_row(
    *, kind: JobKind, claim: Claim, error: str, record_attempt: bool = True,
    only: Iterable[str] = (), **fields: Any,
) -> Any:
    """Mark the job failed for good with ``error`` (and ``fields``), inside the caller's
    transaction or one of its own; the row as it was (with ``only`` loaded), or None when
    the claim was lost. ``record_attempt``: keep the error as this attempt's too."""
    with transaction.atomic():
        row = _claimed_row(kind, claim, only)
        if row is None:
            return None
        values: dict[str, Any] = {"status": FAILED, "error": error[:ERROR_CHARS],
                                  "finished_at": timezone.now(), **fields}
        if record_attempt and kind.keeps_attempt_errors():
            values["attempt_errors"] = _attempt_errors(row, error)
        kind.objects.filter(pk=row.pk).update(**values)
    return row


def task_send(name: str, *args: Any) -> None:
    """Publish the task called ``name`` with ``args``; raises what the broker raises.

    By name: the route (studio/celery.py, CELERY_TASK_ROUTES) is the name's, and the
    sender needs no import of the task. A registered task is sent through its own
    ``apply_async`` (eager mode and the task's options hold); the task modules are
    imported first if this process has not yet (the web process, on its first send).
    """
    from studio.celery import app

    if name not in app.tasks:
        app.loader.import_default_modules()
    task = app.tasks.get(name)
    if task is None:  # a task no module here defines: the broker routes it by name all the same
        app.send_task(name, args=list(args), retry=False)
    else:
        task.apply_async(args=list(args), retry=False)


def job_send(*, kind: JobKind, job_id: int) -> bool:
    """Publish the job's task (on commit). A broker outage leaves the job queued for the
    reconciler: nothing is lost."""
    try:
        if kind.before_send is not None:
            kind.before_send(job_id)
        task_send(kind.task_name, job_id)
    except Exception:  # noqa: BLE001 - any broker error: the reconciler re-sends
        logger.warning("Broker unreachable; %s %s stays queued for the reconciler",
                       kind.label, job_id)
        return False
    kind.objects.filter(pk=job_id).update(sent_at=timezone.now())
    return True


def jobs_reconcile(*, kind: JobKind, send: Callable[[int], bool]) -> list[int]:
    """Send again the jobs whose message is gone; return their ids, oldest first.

    * queued and never sent (the broker was down at submit);
    * queued and last sent longer ago than the kind's resend delay, and (for a kind with
      a ``due`` filter) no longer waiting in the broker;
    * running with a stale or missing heartbeat (the worker died: Redis would only
      redeliver after its visibility timeout, hours later).

    At most ``reconcile_batch`` jobs; stops at the first send that fails (the broker is
    unreachable: the others would fail the same way). Duplicates are harmless: the claim
    decides.
    """
    stale = kind.stale_before()
    resend = kind.resend_queued_after() if kind.resend_queued_after else kind.stuck_after
    queued_before = timezone.now() - timedelta(seconds=resend)
    candidates = (
        kind.objects.filter(
            Q(status=QUEUED, sent_at__isnull=True)
            | Q(status=QUEUED, sent_at__lt=queued_before)
            | Q(status=RUNNING, heartbeat_at__lt=stale)
            | Q(status=RUNNING, heartbeat_at__isnull=True)
        )
        .order_by("created_at", "pk")
        .values_list("pk", "sent_at")
    )
    due_of: DueFilter = kind.due or (lambda rows: [pk for pk, _ in rows])
    due: list[int] = []
    # Every candidate is looked at (ids only, in pages), so a backlog of jobs still
    # waiting never hides a newer job whose message was lost.
    page: list[tuple[int, datetime | None]] = []
    for row in candidates.iterator(chunk_size=RECONCILE_PAGE):
        page.append(row)
        if len(page) == RECONCILE_PAGE:
            due += due_of(page)
            page = []
        if len(due) >= kind.reconcile_batch:
            break
    due += due_of(page)
    sent: list[int] = []
    for job_id in due[:kind.reconcile_batch]:
        if not send(job_id):
            break
        sent.append(job_id)
    if sent:
        logger.info("reconciler re-sent %ss %s", kind.label, sent)
    return sent
