"""Notifications for people: who hears of what, once, in their own team, as they chose."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from studio.models import Draft, GenerationJob, Notification, NotificationKind, Role
from studio.services import generation as jobs
from studio.services import notifications as svc
from studio.services import training as training_svc
from studio.services.reviews import review_approve, review_reject
from studio.tasks.notifications import send_notification_emails
from tests.conftest import World
from tests.factories import BriefFactory, GenerationJobFactory, MembershipFactory, UserFactory
from tests.studio.training.conftest import add_examples
from tests.studio.training.test_services import _fake_adapter

OnCommit = Callable[..., Any]


@pytest.fixture(autouse=True)
def emails_in_process(monkeypatch: pytest.MonkeyPatch, world: World) -> Iterator[None]:
    """E-mail tasks run here (no broker); everyone of both teams has an address."""
    task = send_notification_emails._get_current_object()
    monkeypatch.setattr(task, "apply_async",
                        lambda args, **kw: task.apply(args=args).get())
    for user in (world.admin, world.editor, world.marketer, world.outsider):
        user.email = f"{user.username}@example.com"
        user.save()
    yield


def _ready(job: GenerationJob, n: int = 2) -> list[Draft]:
    claim = jobs.job_claim(job_id=job.pk, worker="w")
    assert claim is not None
    drafts = [{"variant": i, "text": f"Draft {i}", "seed": 1, "params": {}, "prompt_tokens": 1,
               "completion_tokens": 2, "flags": []} for i in range(n)]
    assert jobs.job_complete(claim=claim, prompt="p", drafts=drafts, timings={})
    return list(job.drafts.order_by("variant"))


def _queued(world: World, project: Any = None, **brief: Any) -> GenerationJob:
    brief_row = BriefFactory(project=project or world.project, author=world.marketer, **brief)
    return GenerationJobFactory(brief=brief_row, status=GenerationJob.Status.QUEUED)


def _sent() -> Counter[tuple[str, str]]:
    return Counter((m.to[0], m.subject) for m in mail.outbox)


def test_it_tells_the_author_when_drafts_are_ready_once(
    world: World, django_capture_on_commit_callbacks: OnCommit
) -> None:
    job = _queued(world, title="Spring roast")
    with django_capture_on_commit_callbacks(execute=True):
        _ready(job)
        assert mail.outbox == []  # nothing leaves before the commit
    [note] = Notification.objects.all()
    assert (note.recipient, note.kind) == (world.marketer, NotificationKind.DRAFTS_READY)
    assert note.title == "2 drafts ready: Spring roast"
    assert _sent() == {("marketer-a@example.com", "[Content Studio] 2 drafts ready: Spring roast"): 1}
    assert reverse("brief_detail", args=[job.brief_id]) in mail.outbox[0].body
    # The job delivered again (claim lost) and the e-mail task run again: nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        claim = jobs.job_claim(job_id=job.pk, worker="w2")
        assert claim is None
        assert svc.notifications_email(notification_ids=[note.pk]) == 0
    assert Notification.objects.count() == 1 and len(mail.outbox) == 1


def test_nothing_is_told_when_the_transaction_rolls_back(
    world: World, django_capture_on_commit_callbacks: OnCommit
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                svc.notify(team_id=world.team.pk, kind=NotificationKind.DECISION,
                           event_key="x", recipients=[world.marketer.pk], title="t")
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert Notification.objects.count() == 0 and mail.outbox == []


def test_it_never_tells_another_team(
    world: World, django_capture_on_commit_callbacks: OnCommit
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        told = svc.notify(team_id=world.team.pk, kind=NotificationKind.DECISION,
                          event_key="e", recipients=[world.marketer.pk, world.outsider.pk],
                          title="t")
    assert told == 1
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == [
        "marketer-a"]
    assert [m.to for m in mail.outbox] == [["marketer-a@example.com"]]


def test_it_tells_the_author_the_decision_on_their_brief(
    world: World, django_capture_on_commit_callbacks: OnCommit
) -> None:
    job = _queued(world, title="Autumn blend")
    first, second = _ready(job)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        review_approve(user=world.editor, draft_id=first.pk, version=first.version)
        assert not Notification.objects.filter(kind=NotificationKind.DECISION).exists()
        review_reject(user=world.editor, draft_id=second.pk, version=second.version,
                      reason_tags=["off_brand"])
    [note] = Notification.objects.filter(kind=NotificationKind.DECISION)
    assert note.recipient == world.marketer
    assert note.body == "“Autumn blend”: 1 approved, 1 rejected."
    assert _sent() == {("marketer-a@example.com", "[Content Studio] Reviewed: Autumn blend"): 1}


def test_it_tells_the_admins_when_training_ends_with_the_gate_verdict(
    world: World, tmp_path: Path, django_capture_on_commit_callbacks: OnCommit
) -> None:
    add_examples(world.project, 12)
    job = training_svc.training_job_start(user=world.admin, project_id=world.project.pk)
    claim = training_svc.training_job_claim(job_id=job.pk)
    assert claim is not None
    sha = _fake_adapter(tmp_path / "candidate")
    with django_capture_on_commit_callbacks(execute=True):
        version = training_svc.training_job_finish(
            claim=claim, adapter_path=str(tmp_path / "candidate"), adapter_sha=sha,
            metrics={}, candidate_wins=False,
            gate={"verdict": "not_better", "passed": False,
                  "message": "Its drafts need as much editing as the live model's"})
    assert version is not None
    [note] = Notification.objects.filter(kind=NotificationKind.TRAINING)
    assert note.recipient == world.admin
    assert (f"v{version.number} is ready; the gate did not pass: Its drafts need as much "
            "editing as the live model's.") in note.body
    assert [m.to for m in mail.outbox] == [["admin-a@example.com"]]


def test_it_tells_editors_of_drafts_past_their_deadline_once_per_deadline(
    world: World, django_capture_on_commit_callbacks: OnCommit
) -> None:
    late = _queued(world, title="Late one", deadline=timezone.now() - timedelta(hours=1))
    _ready(late)
    _ready(_queued(world, title="On time", deadline=timezone.now() + timedelta(days=1)))
    second_editor = MembershipFactory(team=world.team, role=Role.EDITOR,
                                      user=UserFactory(username="ana", email="ana@example.com"))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert svc.notify_overdue_drafts() == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert svc.notify_overdue_drafts() == 0  # the beat runs again: told already
    assert _sent() == {
        ("editor-a@example.com", "[Content Studio] Past its deadline: Late one"): 1,
        (second_editor.user.email, "[Content Studio] Past its deadline: Late one"): 1,
    }
    # Assigned drafts: only their editor hears.
    Notification.objects.all().delete()
    Draft.objects.filter(job=late).update(assigned_to=world.editor)
    with django_capture_on_commit_callbacks(execute=True):
        assert svc.notify_overdue_drafts() == 1


def test_preferences_choose_in_app_and_email_per_kind(
    client: Client, world: World, django_capture_on_commit_callbacks: OnCommit
) -> None:
    client.force_login(world.marketer)
    # Drafts ready: in the studio only; decisions: not at all.
    response = client.post(reverse("notification_settings"), {"drafts_ready:in_app": "on"})
    assert response.status_code == 302
    page = client.get(reverse("notification_settings")).content.decode()
    assert 'name="drafts_ready:in_app" checked' in page
    assert 'name="drafts_ready:email" checked' not in page
    job = _queued(world)
    with django_capture_on_commit_callbacks(execute=True):
        first, second = _ready(job)
        review_approve(user=world.editor, draft_id=first.pk, version=first.version)
        review_approve(user=world.editor, draft_id=second.pk, version=second.version)
    assert list(Notification.objects.values_list("kind", "email")) == [("drafts_ready", False)]
    assert mail.outbox == []


def test_the_bell_counts_unread_and_the_list_marks_read(client: Client, world: World) -> None:
    for i in range(3):
        svc.notify(team_id=world.team.pk, kind=NotificationKind.DRAFTS_READY,
                   event_key=f"k{i}", recipients=[world.marketer.pk], title=f"<b>Note {i}</b>",
                   url=reverse("brief_detail", args=[world.brief.pk]))
    client.force_login(world.marketer)
    bell = client.get(reverse("notification_bell")).content.decode()
    assert '<span class="bell-count">3</span>' in bell
    page = client.get(reverse("notifications")).content.decode()
    assert "&lt;b&gt;Note 0&lt;/b&gt;" in page and "<b>Note" not in page
    first = Notification.objects.order_by("pk").first()
    assert first is not None
    # Opening one marks it read and goes to its page.
    response = client.post(reverse("notification_read"), {"ids": [first.pk], "open": "1"})
    assert response["Location"] == reverse("brief_detail", args=[world.brief.pk])
    assert '<span class="bell-count">2</span>' in client.get(reverse("notification_bell")).content.decode()
    assert client.get(reverse("notification_read")).status_code == 405  # no change on GET
    client.post(reverse("notification_read"))
    assert "bell-count" not in client.get(reverse("notification_bell")).content.decode()
    # Someone else's notification cannot be read or marked.
    client.force_login(world.editor)
    client.post(reverse("notification_read"), {"ids": [first.pk]})
    assert client.get(reverse("notifications")).content.decode().count("notification-") == 0


def test_the_api_lists_and_marks_ones_own_notifications(world: World) -> None:
    svc.notify(team_id=world.team.pk, kind=NotificationKind.DECISION, event_key="a",
               recipients=[world.marketer.pk], title="Mine")
    api = APIClient()
    api.force_authenticate(world.marketer)
    [row] = api.get("/api/notifications/", {"unread": "true"}).json()["results"]
    assert row["title"] == "Mine"
    assert api.post("/api/notifications/read/", {"ids": [row["id"]]}, format="json").json() == []
    assert api.get("/api/notifications/", {"unread": "true"}).json()["results"] == []
    api.force_authenticate(world.outsider)
    assert api.get("/api/notifications/").json()["results"] == []


def test_a_scripted_day_sends_each_email_once(
    world: World, tmp_path: Path, django_capture_on_commit_callbacks: OnCommit,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A day of one team (and a second team working alongside): 8 briefs, their drafts,
    reviews, two deadlines missed, a training run; every event is also retried."""
    ana = MembershipFactory(team=world.team, role=Role.EDITOR,
                            user=UserFactory(username="ana", email="ana@example.com")).user
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        briefs = [_queued(world, title=f"Brief {i}",
                          deadline=now - timedelta(hours=1) if i < 2 else None)
                  for i in range(8)]
        other = GenerationJobFactory(brief=BriefFactory(project=world.other_project,
                                                        author=world.outsider),
                                     status=GenerationJob.Status.QUEUED)
        ready = {job.pk: _ready(job) for job in [*briefs, other]}
        for job in briefs[2:]:  # editors review six briefs
            first, second = ready[job.pk]
            review_approve(user=ana, draft_id=first.pk, version=first.version)
            review_reject(user=world.editor, draft_id=second.pk, version=second.version,
                          reason_tags=["off_brand"])
        for _ in range(3):  # the beat, three times over the day
            svc.notify_overdue_drafts()
        add_examples(world.project, 12)
        job = training_svc.training_job_start(user=world.admin, project_id=world.project.pk)
        claim = training_svc.training_job_claim(job_id=job.pk)
        assert claim is not None
        sha = _fake_adapter(tmp_path / "day")
        training_svc.training_job_finish(claim=claim, adapter_path=str(tmp_path / "day"),
                                         adapter_sha=sha, metrics={}, candidate_wins=False)
        # Retries of everything: the e-mail task again over every notification.
        svc.notifications_email(notification_ids=list(
            Notification.objects.values_list("pk", flat=True)))
    sent = _sent()
    assert max(sent.values()) == 1, "an e-mail was sent twice"
    by_person = Counter(to for to, _ in sent)
    assert by_person == {
        "marketer-a@example.com": 8 + 6,   # drafts ready ×8, decisions ×6
        "editor-a@example.com": 2,         # two briefs past their deadline
        "ana@example.com": 2,
        "admin-a@example.com": 1,          # training finished, with the verdict
        "outsider@example.com": 1,         # team B's own drafts, nothing of team A
    }
    with capsys.disabled():
        print(f"\nscripted day: {len(mail.outbox)} notification e-mails, "
              f"{sum(sent.values()) - len(sent)} duplicates")
