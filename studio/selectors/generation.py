from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Count, Min, Q
from django.utils import timezone

from studio import live
from studio.models import Brief, GenerationJob, Project
from studio.permissions import Need, role_allows, role_in


def brief_latest_job(*, brief: Brief) -> GenerationJob | None:
    """The brief's newest generation job (what its status line shows)."""
    return brief.jobs.select_related("model_version").order_by("-created_at", "-pk").first()


@dataclass(frozen=True)
class JobProblem:
    """What members are told about a failed job, or one retrying after an error.

    ``message`` is a plain sentence for every member; ``detail`` is the technical error,
    filled in for the team's admins only (marketers and editors never see an exception).
    ``live_model_broken``: the project's live version could not be loaded, so an admin
    should roll back (the page links admins to the models page)."""

    message: str
    detail: str
    live_model_broken: bool = False


LIVE_MODEL_BROKEN = "The project's live model could not be loaded; an admin can roll back."
_MESSAGES: dict[str, str] = {
    GenerationJob.Failure.MODEL: (
        "The model version this run used could not be loaded; the project has changed "
        "model since, so regenerate to write with the current one."
    ),
    GenerationJob.Failure.BASE_MODEL: (
        "The writing model could not be loaded, so nothing was written. Tell an admin: "
        "the details are on this page for them."
    ),
    GenerationJob.Failure.BRIEF: (
        "The model could not write this brief as it is (too long for it, or missing "
        "something its kind needs). Submit a shorter or completed brief."
    ),
    GenerationJob.Failure.GAVE_UP: (
        "Writing stopped on every attempt, so the run was given up. Regenerate to try "
        "again; if it keeps happening, tell an admin."
    ),
}
_SOMETHING_WENT_WRONG = ("Something went wrong while writing. Regenerate to try again; if "
                         "it keeps happening, tell an admin.")
_RETRYING = "The last attempt ran into a problem; it is being tried again."


def job_problem(*, job: GenerationJob | None, project: Project, is_admin: bool
                ) -> JobProblem | None:
    """The problem to show for ``job`` (a job of ``project``), or None when it has none."""
    if job is None:
        return None
    detail = job.error if is_admin else ""
    if job.status == GenerationJob.Status.QUEUED and job.error:
        return JobProblem(_RETRYING, detail)
    if job.status != GenerationJob.Status.FAILED:
        return None
    if job.failure == GenerationJob.Failure.MODEL and (
        job.model_version_id is not None and job.model_version_id == project.live_model_id
    ):
        return JobProblem(LIVE_MODEL_BROKEN, detail, live_model_broken=True)
    return JobProblem(_MESSAGES.get(job.failure, _SOMETHING_WENT_WRONG), detail)


def job_problem_for(user: Any, *, job: GenerationJob | None, project: Project
                    ) -> JobProblem | None:
    """:func:`job_problem` with the details for ``user`` only if they admin the team."""
    if job is None or job.status not in (GenerationJob.Status.QUEUED,
                                         GenerationJob.Status.FAILED):
        return None  # no role lookup for the common case
    return job_problem(job=job, project=project,
                       is_admin=role_allows(role_in(user, project.team_id), Need.ADMIN))


@dataclass(frozen=True)
class JobLive:
    """What the brief page shows of a job still queued or running.

    Queued: ``position`` in the fair order (1 = next) and ``wait_s``, an estimate from
    the jobs finished in the last RECENT_WINDOW. Running: each variant's text so far
    (from Redis: not a draft, never reviewable), ``elapsed_s`` since the worker took it
    and ``left_s``, the time left if every variant used its whole token budget at the
    current speed (an upper bound: most stop earlier)."""

    position: int | None = None
    wait_s: float | None = None
    variants: tuple[dict[str, Any], ...] = ()
    elapsed_s: float | None = None
    left_s: float | None = None


RECENT_WINDOW = timedelta(minutes=15)


def job_live(*, job: GenerationJob | None) -> JobLive | None:
    """:class:`JobLive` for a queued or running job, None otherwise."""
    if job is None:
        return None
    if job.status == GenerationJob.Status.QUEUED:
        position = job_queue_position(job=job)
        return JobLive(position=position, wait_s=_wait_estimate(position))
    if job.status != GenerationJob.Status.RUNNING:
        return None
    partial = live.partial_read(job.pk)
    variants = tuple(partial.get("variants", ()))
    elapsed = (timezone.now() - job.started_at).total_seconds() if job.started_at else None
    left = None
    seconds = partial.get("seconds") or 0
    written = max((v["tokens"] for v in variants), default=0)
    if written and seconds > 0:
        budget = max(v["max"] for v in variants)
        left = max(0.0, (budget - written) * seconds / written)
    return JobLive(variants=variants, elapsed_s=elapsed, left_s=left)


def job_queue_position(*, job: GenerationJob) -> int:
    """Where a queued job stands in the order workers take jobs (1 = next).

    Workers serve teams in turn (the team served longest ago first, see
    ``job_claim_next``), so with ``k`` of its own team's jobs ahead of it, each other team
    that waits gets ``k`` jobs taken before it, plus one if its turn comes first.
    """
    team_id = job.brief.project.team_id
    queued = GenerationJob.objects.filter(status=GenerationJob.Status.QUEUED)
    own = queued.filter(brief__project__team_id=team_id)
    own_ahead = own.filter(
        Q(created_at__lt=job.created_at) | Q(created_at=job.created_at, pk__lt=job.pk)
    ).count()
    turn = job.brief.project.team.generation_turn_at
    head = own.aggregate(head=Min("created_at"))["head"] or job.created_at
    others = (
        queued.exclude(brief__project__team_id=team_id)
        .values("brief__project__team_id", "brief__project__team__generation_turn_at")
        .annotate(waiting=Count("pk"), head=Min("created_at"))
    )
    ahead = own_ahead
    for other in others:
        their_turn = other["brief__project__team__generation_turn_at"]
        # Their next job goes before this team's when they were served longer ago (never
        # counts as longest), or at the same time and their oldest job is older.
        if turn == their_turn:
            first = other["head"] < head
        else:
            first = their_turn is None or (turn is not None and their_turn < turn)
        ahead += min(other["waiting"], own_ahead + (1 if first else 0))
    return ahead + 1


def _wait_estimate(position: int) -> float | None:
    """Seconds until a job at ``position`` is taken, from the pace jobs finished lately."""
    since = timezone.now() - RECENT_WINDOW
    finished = GenerationJob.objects.filter(status=GenerationJob.Status.SUCCEEDED,
                                            finished_at__gte=since)
    stats = finished.aggregate(n=Count("pk"), first=Min("finished_at"))
    if not stats["n"]:
        return None
    window = max(60.0, (timezone.now() - stats["first"]).total_seconds())
    return position * window / stats["n"]
