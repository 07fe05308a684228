"""Model versions: promote, roll back, use the base model, and load checks.

A finished job registers a ModelVersion with the job's base model and its revision;
:func:`model_promote` and :func:`model_rollback` switch the live version atomically
(project row locked), after checking the adapter files are there and still have their
recorded sha256; :func:`model_use_base` takes the live version off, so the project
serves its plain base model again.

Load checks: promote (and auto-promote) switches only to a version whose adapter the
serving loader has loaded and written a few tokens with
(``generation.engine.Engine.check_adapter``). The web process cannot run that check (it
never imports torch), and waiting in a web request for a busy generation worker would
make promote time out at random, so the check runs where the model lives and its
outcome is recorded on the version (``load_check``, with the error, the libraries and
where it ran): the training task checks the adapter it just trained before it registers
the version (a failed check is never auto-promoted); an admin can ask for the check
again (:func:`model_version_check_request`, run by a generation worker with its own
engine: for versions made before checks existed, or after a library upgrade); and a
generation worker that cannot load a version marks its check failed
(:func:`model_version_load_failed`). Promote refuses a version whose check is missing,
running or failed, with the reason; roll back refuses one whose check failed (a version
that served before and was never checked may go back live: it is the way out when the
live one breaks), and "use the base model" is always there.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from generation.adapters import adapter_sha256_upgrade, check_adapter_dir, verify_adapter_sha256
from generation.errors import AdapterChecksumError, AdapterError
from studio.models import ModelVersion, Project
from studio.permissions import Need, project_for_user, version_for_user
from studio.services.audit import audit_record
from studio.services.errors import Refused, WrongState
from studio.services.jobs import task_send

logger = logging.getLogger(__name__)

# Run by a generation worker (queue ``generate``, by its route) with its serving engine.
CHECK_TASK = "studio.tasks.generation.check_model_version"


# --- Versions ----------------------------------------------------------------------


def _verify_adapter(version: ModelVersion) -> None:
    if not version.adapter_path:
        raise WrongState(f"v{version.number} has no adapter; the live model is unchanged.")
    folder = Path(version.adapter_path)
    try:
        check_adapter_dir(folder)
        verify_adapter_sha256(folder, version.adapter_sha256)
    except AdapterChecksumError as exc:
        if _is_legacy_record(folder, version.adapter_sha256):
            raise WrongState(
                f"The adapter of v{version.number} cannot be used yet: its recorded sha256 is "
                "a legacy checksum of the weights alone, which does not cover "
                "adapter_config.json. Ask an operator to run `python manage.py "
                "adapter_checksums_upgrade --apply` (it re-records it while the weights "
                "still match), or retrain the project; the live model is unchanged."
            ) from exc
        raise WrongState(
            f"The adapter files of v{version.number} no longer match their recorded sha256 "
            "(changed or replaced on disk); refused, the live model is unchanged."
        ) from exc
    except AdapterError as exc:
        raise WrongState(
            f"The adapter of v{version.number} cannot be used ({exc}); the live model is "
            "unchanged."
        ) from exc


def _verify_load_check(version: ModelVersion, verb: str) -> None:
    """Promote needs a passing load check; roll back refuses only a failed one."""
    check = version.load_check
    name = f"v{version.number}"
    if check == ModelVersion.LoadCheck.FAILED:
        raise WrongState(
            f"{name} cannot be loaded: {version.load_check_error.rstrip('. ')}. Refused; "
            "the live model is unchanged. Retrain the project, or fix the cause and check "
            "it again."
        )
    if verb == "model.rollback" or check == ModelVersion.LoadCheck.OK:
        return
    if check == ModelVersion.LoadCheck.PENDING:
        raise WrongState(
            f"{name} is being checked (loaded and made to write a few tokens); promote it "
            "once the check has passed. The live model is unchanged."
        )
    raise WrongState(
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


def make_live(
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


# Longest override reason kept (it goes into the audit row too).
OVERRIDE_REASON_MAX = 1000


def _gate_override(version: ModelVersion, user: Any, reason: str) -> dict[str, Any] | None:
    """Promote needs the gate passed, or an admin's reason to promote anyway. Returns the
    override to record (None when the gate passed or never ran: versions from before the
    gate promote as before). A candidate that wrote no usable draft is refused outright."""
    from generation.gate import DRAFTS_FAILED

    gate = version.gate or {}
    if not gate or gate.get("passed"):
        return None
    name = f"v{version.number}"
    message = str(gate.get("message") or "it did not pass the gate").rstrip(". ")
    if gate.get("verdict") == DRAFTS_FAILED:
        raise WrongState(f"{name} cannot be promoted: {message}.")
    reason = " ".join(reason.split())
    if not reason:
        raise Refused(
            f"{name} did not pass the gate: {message}. To promote it anyway, give a reason "
            "(it is recorded on the version and in the audit log). The live model is "
            "unchanged.", field="reason",
        )
    if len(reason) > OVERRIDE_REASON_MAX:
        raise Refused(f"The reason is too long: at most {OVERRIDE_REASON_MAX} characters.",
                      field="reason")
    return {"by": user.get_username(), "by_id": user.pk, "at": timezone.now().isoformat(),
            "reason": reason, "verdict": gate.get("verdict", "")}


def _switch(*, user: Any, version_id: object, allowed: tuple[str, ...], verb: str,
            refusal: str, override_reason: str | None = None) -> ModelVersion:
    version = version_for_user(user, version_id, need=Need.ADMIN)
    with transaction.atomic():
        # live_model is read after the lock, never joined into the locking query: a
        # switch that committed while this one waited must be seen.
        project = Project.objects.select_for_update(of=("self",)).select_related(
            "team"
        ).get(pk=version.project_id)
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if version.status not in allowed:
            raise WrongState(refusal.format(n=version.number,
                                                 status=version.get_status_display().lower()))
        override = (None if override_reason is None
                    else _gate_override(version, user, override_reason))
        make_live(project=project, version=version, actor=user, verb=verb,
                  extra={"override": override} if override else None)
        if override:
            version.gate_override = override
            version.save(update_fields=["gate_override"])
    return version


def model_promote(*, user: Any, version_id: object, reason: str = "") -> ModelVersion:
    """Make a ready version live (the old live one is archived). One transaction.

    The version must have passed the gate (its drafts on held-out briefs cost editors
    less than the live model's); otherwise an admin promotes it anyway only with a
    ``reason``, recorded on the version (``gate_override``) and in the audit row. A
    version whose drafts all failed is refused whatever the reason."""
    return _switch(
        user=user, version_id=version_id, allowed=(ModelVersion.Status.READY,),
        verb="model.promote",
        refusal="v{n} is {status}; only a ready version can be promoted.",
        override_reason=reason,
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
        base = project.effective_base_model
        if live is None:
            raise WrongState(
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


def load_check_fields(check: dict[str, Any] | None) -> dict[str, Any]:
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
        raise WrongState(f"v{version.number} has no adapter: there is nothing to check.")
    with transaction.atomic():
        ModelVersion.objects.filter(pk=version.pk).update(
            load_check=ModelVersion.LoadCheck.PENDING, load_check_error=""
        )
        transaction.on_commit(lambda: model_version_check_send(version.pk))
    version.refresh_from_db()
    return version


def model_version_check_send(version_id: int) -> bool:
    try:
        task_send(CHECK_TASK, version_id)
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
    return bool(ModelVersion.objects.filter(pk=version_id).update(**load_check_fields(check)))


def model_version_load_failed(*, version_id: int, error: str) -> bool:
    """A generation worker could not load the version for a job: its check is failed
    now, with the worker's error, whatever an earlier check said."""
    return model_version_check_record(version_id=version_id, check={
        "ok": False, "error": error, "info": {"where": "a generation job"},
    })
