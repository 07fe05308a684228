from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
