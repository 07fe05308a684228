"""Notifications for people: in the studio (the bell) and by e-mail.

The services that write an event's rows call one ``notify_*`` function inside their
transaction. It writes one ``Notification`` per recipient, keyed by the event
(``unique(recipient, event_key)``: a retried or raced event is told once), and on
commit sends the e-mails through a task (queue ``default``); each e-mail is claimed
with a conditional update of ``emailed_at``, so a task run twice sends it once.
Recipients are always read from the event's own team: nobody hears of another team.

Preferences: per person and kind, in the studio and/or by e-mail (both on without a
row). A kind switched off in both writes no row at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from studio.models import (
    Brief,
    Draft,
    GenerationJob,
    Membership,
    ModelVersion,
    Notification,
    NotificationKind,
    NotificationPreference,
    Role,
    TrainingJob,
)
from studio.services.jobs import task_send

logger = logging.getLogger(__name__)

# Sent by name: a service never imports a task.
EMAIL_TASK = "studio.tasks.notifications.send_notification_emails"


def preferences_of(user: Any) -> dict[str, tuple[bool, bool]]:
    """(in the studio, by e-mail) for every kind, defaults filled in."""
    saved = {p.kind: (p.in_app, p.email)
             for p in NotificationPreference.objects.filter(user_id=user.pk)}
    return {kind: saved.get(kind, (True, True)) for kind in NotificationKind.values}


def preferences_save(*, user: Any, choices: dict[str, tuple[bool, bool]]) -> None:
    """Save the user's choices; kinds not named keep theirs."""
    with transaction.atomic():
        for kind, (in_app, email) in choices.items():
            if kind in NotificationKind.values:
                NotificationPreference.objects.update_or_create(
                    user_id=user.pk, kind=kind, defaults={"in_app": in_app, "email": email})


def notify(
    *,
    team_id: int,
    kind: str,
    event_key: str,
    recipients: Iterable[int],
    title: str,
    body: str = "",
    url: str = "",
) -> int:
    """Tell ``recipients`` (user ids; only members of ``team_id`` are kept) of one event,
    once each. Call inside the transaction that writes the event; returns the rows
    written now (0 for an event told before)."""
    wanted = set(recipients)
    addresses = dict(Membership.objects.filter(team_id=team_id, user_id__in=wanted)
                     .values_list("user_id", "user__email"))
    members = set(addresses)
    prefs = {p.user_id: (p.in_app, p.email) for p in
             NotificationPreference.objects.filter(user_id__in=members, kind=kind)}
    rows = []
    for user_id in sorted(members):
        in_app, email = prefs.get(user_id, (True, True))
        email = email and bool(addresses[user_id])  # no address: nothing to send
        if in_app or email:
            rows.append(Notification(recipient_id=user_id, team_id=team_id, kind=kind,
                                     event_key=event_key, title=title[:300], body=body,
                                     url=url[:500], in_app=in_app, email=email))
    if not rows:
        return 0
    before = Notification.objects.filter(event_key=event_key, recipient_id__in=members).count()
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    if any(r.email for r in rows):
        transaction.on_commit(lambda: _send_emails(event_key))
    return len(rows) - before


def _send_emails(event_key: str) -> None:
    ids = list(Notification.objects.filter(event_key=event_key, email=True,
                                           emailed_at__isnull=True).values_list("pk", flat=True))
    if not ids:
        return
    try:
        task_send(EMAIL_TASK, ids)
    except Exception:  # noqa: BLE001 - broker down: send from here rather than lose them
        logger.warning("Broker unreachable; notification e-mails %s sent in process", ids)
        notifications_email(notification_ids=ids)


def notifications_email(*, notification_ids: Sequence[int]) -> int:
    """Send the e-mail of each notification not sent yet; returns how many were sent."""
    sent = 0
    for pk in notification_ids:
        now = timezone.now()
        if not Notification.objects.filter(pk=pk, email=True, emailed_at__isnull=True).update(
                emailed_at=now):
            continue  # sent already (a second run), or not wanted by e-mail
        note = Notification.objects.select_related("recipient").get(pk=pk)
        if not note.recipient.email:
            continue
        link = f"{settings.STUDIO_BASE_URL.rstrip('/')}{note.url}" if note.url else ""
        try:
            send_mail(subject=f"[Content Studio] {note.title}",
                      message="\n\n".join(p for p in (note.body, link) if p),
                      from_email=None, recipient_list=[note.recipient.email])
        except Exception:
            Notification.objects.filter(pk=pk).update(emailed_at=None)  # try again later
            raise
        sent += 1
    return sent


# The events ----------------------------------------------------------------------------


def notify_drafts_ready(*, job: GenerationJob, drafts: Sequence[Draft]) -> None:
    """A job's drafts are saved: tell the brief's author."""
    brief = job.brief
    n = len(drafts)
    notify(team_id=brief.project.team_id, kind=NotificationKind.DRAFTS_READY,
           event_key=f"drafts_ready:job:{job.pk}", recipients=[brief.author_id],
           title=f"{n} draft{'s' if n != 1 else ''} ready: {brief.title}",
           body=f"The model wrote {n} draft{'s' if n != 1 else ''} for “{brief.title}”; "
                "they wait for an editor.",
           url=reverse("brief_detail", kwargs={"brief_id": brief.pk}))


def notify_brief_decided(*, brief: Brief) -> None:
    """Every draft of the brief's latest job is decided: tell its author how."""
    job = brief.jobs.order_by("-created_at", "-pk").first()
    if job is None:
        return
    approved = job.drafts.filter(status=Draft.Status.APPROVED).count()
    rejected = job.drafts.filter(status=Draft.Status.REJECTED).count()
    notify(team_id=brief.project.team_id, kind=NotificationKind.DECISION,
           event_key=f"decision:job:{job.pk}", recipients=[brief.author_id],
           title=f"Reviewed: {brief.title}",
           body=f"“{brief.title}”: {approved} approved, {rejected} rejected.",
           url=reverse("brief_detail", kwargs={"brief_id": brief.pk}))


def notify_training_finished(*, job_id: int) -> None:
    """A training job ended: tell the team's admins how, and the gate's verdict."""
    job = TrainingJob.objects.select_related("project").get(pk=job_id)
    version = ModelVersion.objects.filter(training_job_id=job.pk).first()
    verdict = ""
    if job.status == TrainingJob.Status.SUCCEEDED and version is not None:
        live = " It is live now." if version.status == ModelVersion.Status.LIVE else ""
        gate = version.gate if isinstance(version.gate, dict) else {}
        if gate:  # the promotion gate's verdict, in its own words
            passed = "passed" if gate.get("passed") else "did not pass"
            verdict = (f" v{version.number} is ready; the gate {passed}: "
                       f"{gate.get('message', '')}".rstrip(": ") + "." + live)
        else:  # versions from before the gate: eval loss only
            wins = (version.metrics or {}).get("candidate_wins")
            verdict = (f" v{version.number} is ready; by eval loss it "
                       f"{'beats' if wins else 'does not beat'} the live model.{live}")
    admins = Membership.objects.filter(team_id=job.project.team_id, role=Role.ADMIN)
    notify(team_id=job.project.team_id, kind=NotificationKind.TRAINING,
           event_key=f"training:job:{job.pk}",
           recipients=admins.values_list("user_id", flat=True),
           title=f"Training {job.get_status_display().lower()}: {job.project.name}",
           body=f"Training job #{job.pk} of {job.project.name} "
                f"{job.get_status_display().lower()}.{verdict}"
                + (f" {job.error}" if job.error else ""),
           url=reverse("training_job", kwargs={"job_id": job.pk}))


def notify_overdue_drafts(*, now: Any = None) -> int:
    """Briefs past their deadline with drafts still waiting: tell their assignees, or
    the team's editors (admins where there is none), once per brief and deadline."""
    now = now or timezone.now()
    told = 0
    waiting = Draft.objects.filter(job__brief=OuterRef("pk"), status=Draft.Status.PENDING)
    briefs = (Brief.objects.filter(deadline__lt=now, deadline__gte=now - timedelta(days=7))
              .filter(Exists(waiting)).select_related("project"))
    for brief in briefs.iterator():
        pending = Draft.objects.filter(job__brief=brief, status=Draft.Status.PENDING)
        assignees = set(pending.exclude(assigned_to__isnull=True)
                        .values_list("assigned_to_id", flat=True))
        if brief.assigned_to_id:
            assignees.add(brief.assigned_to_id)
        recipients: Iterable[int] = assignees
        if not assignees:
            members = Membership.objects.filter(team_id=brief.project.team_id)
            recipients = (list(members.filter(role=Role.EDITOR).values_list("user_id", flat=True))
                          or list(members.filter(role=Role.ADMIN)
                                  .values_list("user_id", flat=True)))
        n = pending.count()
        with transaction.atomic():
            told += notify(
                team_id=brief.project.team_id, kind=NotificationKind.DRAFTS_OVERDUE,
                event_key=f"overdue:brief:{brief.pk}:{brief.deadline.isoformat() if brief.deadline else ''}",
                recipients=recipients,
                title=f"Past its deadline: {brief.title}",
                body=f"{n} draft{'s' if n != 1 else ''} of “{brief.title}” still wait for "
                     "review; the deadline has passed.",
                url=reverse("draft_review", kwargs={"draft_id": pending.order_by("pk")
                                                    .values_list("pk", flat=True)[0]}))
    return told


# Reading and marking -----------------------------------------------------------------------


def notification_mark_read(*, user: Any, notification_ids: Sequence[int] | None = None) -> int:
    """Mark the user's notifications read (all of them without ids)."""
    qs = Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=notification_ids)
    return qs.update(read_at=timezone.now())

