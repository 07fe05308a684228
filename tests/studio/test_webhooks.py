"""Webhooks: signed deliveries to a real local HTTP server, retries, and the SSRF guard."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from celery.exceptions import Retry
from django.test import Client
from django.urls import reverse

from studio.models import AuditEvent, GenerationJob, Project, TrainingJob
from studio.services import generation as jobs
from studio.services import training as training_svc
from studio.services import webhooks as svc
from studio.services.claims import Claim
from studio.services.projects import project_update_settings
from studio.tasks.webhooks import deliver_webhook
from tests.conftest import World
from tests.factories import GenerationJobFactory, TrainingJobFactory

PUBLIC_IP = "93.184.216.34"


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1; answers each POST with the next of ``statuses``
    (200 when they run out)."""

    url: str
    statuses: list[int] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    # The local server is on loopback: only tests may lift the SSRF guard.
    settings.WEBHOOK_ALLOW_PRIVATE = True
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.deliveries.append(Delivery(self.path, dict(self.headers.items()), body))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll interval: shutdown() waits for one poll.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/studio?src=test"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def retries(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The countdown of every retry the task schedules (eager retries run at once)."""
    task = deliver_webhook._get_current_object()
    original = task.retry
    countdowns: list[int] = []

    def retry(*args: Any, **kwargs: Any) -> Any:
        countdowns.append(kwargs["countdown"])
        try:
            return original(*args, **kwargs)
        except Retry:
            raise
        except Exception:  # past max_retries: not retried, the task fails
            countdowns.pop()
            raise

    monkeypatch.setattr(task, "retry", retry)
    return countdowns


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Enqueued deliveries run in this process (no broker); returns their outcomes."""
    task = deliver_webhook._get_current_object()
    outcomes: list[str] = []

    def apply_async(args: list[Any], **kwargs: Any) -> None:
        outcomes.append(task.apply(args=args).get())

    monkeypatch.setattr(task, "apply_async", apply_async)
    return outcomes


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Host name → address answers for getaddrinfo (other names do not resolve)."""
    answers: dict[str, str] = {}

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def _hook(world: World, url: str) -> Project:
    return project_update_settings(user=world.admin, project_id=world.project.pk,
                                   data={"webhook_url": url})


def _deliver(project: Project, event: str = svc.DRAFTS_READY,
             payload: dict[str, Any] | None = None, event_id: str = "e-1") -> str:
    return str(deliver_webhook.apply(args=[project.pk, event, payload or {"x": 1},
                                           event_id]).get())


def _verify(secret: str, delivery: Delivery) -> bool:
    """What a receiver does (the README's example)."""
    timestamp = delivery.headers["X-Studio-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + delivery.body,
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + expected, delivery.headers["X-Studio-Signature"])


def _draft(variant: int) -> dict[str, Any]:
    return {"variant": variant, "text": f"Draft {variant}", "seed": 1, "params": {},
            "prompt_tokens": 1, "completion_tokens": 2, "flags": []}


# --- Delivery --------------------------------------------------------------------------


def test_it_signs_a_delivery_with_the_projects_secret(world: World, receiver: Receiver) -> None:
    project = _hook(world, receiver.url)
    assert len(project.webhook_secret) >= 43

    assert _deliver(project, payload={"job_id": 7}, event_id="abc") == "delivered"

    [delivery] = receiver.deliveries
    assert delivery.path == "/hooks/studio?src=test"
    assert delivery.headers["Content-Type"] == "application/json"
    assert delivery.headers["X-Studio-Event"] == "drafts.ready"
    assert delivery.headers["X-Studio-Delivery"] == "abc"
    assert _verify(project.webhook_secret, delivery)
    assert not _verify("another secret", delivery)
    assert delivery.json["event"] == "drafts.ready" and delivery.json["data"] == {"job_id": 7}


def test_it_delivers_drafts_ready_after_job_complete(
    world: World, receiver: Receiver, in_process: list[str],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    project = _hook(world, receiver.url)
    job = GenerationJobFactory(brief=world.brief, status=GenerationJob.Status.QUEUED,
                               model_version=world.version)
    claim = jobs.job_claim(job_id=job.pk, worker="w")
    assert claim is not None

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.job_complete(claim=claim, prompt="p", drafts=[_draft(0), _draft(1)],
                                 timings={})
        assert receiver.deliveries == []  # nothing leaves before the commit

    assert in_process == ["delivered"]
    [delivery] = receiver.deliveries
    assert _verify(project.webhook_secret, delivery)
    data = delivery.json["data"]
    assert (data["project_id"], data["brief_id"], data["job_id"]) == (
        project.pk, world.brief.pk, job.pk)
    assert [d["variant"] for d in data["drafts"]] == [0, 1]
    assert {d["id"] for d in data["drafts"]} == set(job.drafts.values_list("pk", flat=True))
    assert data["model_version"] == {"id": world.version.pk, "number": world.version.number}
    assert delivery.headers["X-Studio-Delivery"] == delivery.json["id"]


def test_it_delivers_training_finished_for_success_and_failure(
    world: World, receiver: Receiver, in_process: list[str],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    _hook(world, receiver.url)
    job = TrainingJobFactory(project=world.project, status=TrainingJob.Status.RUNNING,
                             claim_token="tok")
    with django_capture_on_commit_callbacks(execute=True):
        version = training_svc.training_job_finish(
            claim=Claim(job.pk, "tok", 1), adapter_path="a", adapter_sha="b",
            metrics={"candidate": {"eval_loss": 1.5}}, candidate_wins=False,
        )
    assert version is not None
    failed = TrainingJobFactory(project=world.project, status=TrainingJob.Status.RUNNING,
                                claim_token="tok2")
    with django_capture_on_commit_callbacks(execute=True):
        assert training_svc.training_job_fail(claim=Claim(failed.pk, "tok2", 1), error="OOM")

    assert in_process == ["delivered", "delivered"]
    done, fail = (d.json["data"] for d in receiver.deliveries)
    assert receiver.deliveries[0].headers["X-Studio-Event"] == "training.finished"
    assert done["job_id"] == job.pk and done["status"] == "succeeded"
    assert done["model_version"] == {"id": version.pk, "number": version.number}
    assert done["metrics"]["candidate"] == {"eval_loss": 1.5}
    assert fail["status"] == "failed" and fail["error"] == "OOM"
    assert fail["model_version"] is None and fail["metrics"] is None


def test_it_enqueues_nothing_without_a_url(
    world: World, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    job = GenerationJobFactory(brief=world.brief, status=GenerationJob.Status.QUEUED)
    claim = jobs.job_claim(job_id=job.pk, worker="w")
    assert claim is not None
    training = TrainingJobFactory(project=world.project, status=TrainingJob.Status.RUNNING,
                                  claim_token="tok")
    with django_capture_on_commit_callbacks() as callbacks:
        assert jobs.job_complete(claim=claim, prompt="p", drafts=[_draft(0)], timings={})
        assert training_svc.training_job_fail(claim=Claim(training.pk, "tok", 1), error="x")
        assert svc.webhook_emit(world.project, svc.DRAFTS_READY, {}) is None
    assert callbacks == []


def test_it_retries_a_5xx_with_backoff_then_delivers(
    world: World, receiver: Receiver, retries: list[int]
) -> None:
    project = _hook(world, receiver.url)
    receiver.statuses = [500, 429]
    assert _deliver(project) == "delivered"
    assert retries == [2, 4]
    assert len(receiver.deliveries) == 3
    # Every attempt carries the same delivery id (receivers drop duplicates) and is signed.
    assert {d.headers["X-Studio-Delivery"] for d in receiver.deliveries} == {"e-1"}
    assert all(_verify(project.webhook_secret, d) for d in receiver.deliveries)


def test_it_gives_up_after_six_attempts(
    world: World, receiver: Receiver, retries: list[int]
) -> None:
    project = _hook(world, receiver.url)
    receiver.statuses = [503] * 10
    with pytest.raises(svc.WebhookRetry, match="^HTTP 503$"):
        _deliver(project)  # the task fails with the last error
    assert retries == [2, 4, 8, 16, 32]
    assert len(receiver.deliveries) == svc.MAX_ATTEMPTS


def test_it_retries_a_network_error(world: World, receiver: Receiver,
                                    retries: list[int]) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    project = _hook(world, f"http://127.0.0.1:{port}/")
    with pytest.raises(svc.WebhookRetry, match="^network error"):
        _deliver(project)
    assert len(retries) == svc.MAX_ATTEMPTS - 1


@pytest.mark.parametrize("status", [400, 404, 410, 302])
def test_it_does_not_retry_a_4xx_or_follow_a_redirect(
    world: World, receiver: Receiver, retries: list[int], status: int
) -> None:
    project = _hook(world, receiver.url)
    receiver.statuses = [status]
    assert _deliver(project) == f"failed: HTTP {status}"
    assert retries == []
    assert len(receiver.deliveries) == 1


def test_it_skips_a_project_whose_url_was_removed(world: World, receiver: Receiver) -> None:
    project = _hook(world, receiver.url)
    project_update_settings(user=world.admin, project_id=project.pk, data={"webhook_url": ""})
    assert _deliver(project) == "skipped: no webhook URL"
    assert receiver.deliveries == []


# --- The SSRF guard ----------------------------------------------------------------------

REFUSED = [
    ("http://127.0.0.1:8000/hook", "127.0.0.1 is loopback"),
    ("http://localhost/hook", "is loopback"),
    ("http://[::1]/hook", "::1 is loopback"),
    ("http://10.1.2.3/hook", "10.1.2.3 is private"),
    ("https://192.168.0.10/hook", "192.168.0.10 is private"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is link-local"),
    ("http://0.0.0.0/", "0.0.0.0 is unspecified"),
    ("http://224.0.0.1/", "224.0.0.1 is multicast"),
    ("http://[::ffff:127.0.0.1]/", "is loopback"),
    ("http://100.64.0.1/", "100.64.0.1 is not a public address"),
    ("ftp://ftp.example.com/file", "must start with http:// or https://"),
]


def test_the_guard_is_on_by_default(settings: Any) -> None:
    assert settings.WEBHOOK_ALLOW_PRIVATE is False


@pytest.mark.parametrize(("url", "message"), REFUSED)
def test_the_settings_page_refuses_a_non_public_url(
    client: Client, world: World, url: str, message: str
) -> None:
    client.force_login(world.admin)
    page = reverse("project_settings", kwargs={"project_id": world.project.pk})
    response = client.post(page, {"name": world.project.name, "webhook_url": url})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Project.objects.get(pk=world.project.pk).webhook_url == ""


@pytest.mark.parametrize(("url", "message"), REFUSED)
def test_the_api_refuses_a_non_public_url(client: Client, world: World, url: str,
                                         message: str) -> None:
    client.force_login(world.admin)
    response = client.patch(reverse("api:project-detail",
                                    kwargs={"project_id": world.project.pk}),
                            json.dumps({"webhook_url": url}), content_type="application/json")
    assert response.status_code == 400
    assert any(message in m for m in response.json()["webhook_url"]), response.json()
    assert Project.objects.get(pk=world.project.pk).webhook_url == ""


def test_it_refuses_a_host_that_does_not_resolve(client: Client, world: World,
                                                 dns: dict[str, str]) -> None:
    client.force_login(world.admin)
    response = client.patch(reverse("api:project-detail",
                                    kwargs={"project_id": world.project.pk}),
                            json.dumps({"webhook_url": "https://nowhere.example/"}),
                            content_type="application/json")
    assert response.status_code == 400
    assert "cannot be resolved" in response.json()["webhook_url"][0]


def test_it_refuses_at_delivery_when_dns_now_points_inside(
    client: Client, world: World, dns: dict[str, str], retries: list[int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    dns["hooks.example.com"] = PUBLIC_IP
    client.force_login(world.admin)
    response = client.patch(reverse("api:project-detail",
                                    kwargs={"project_id": world.project.pk}),
                            json.dumps({"webhook_url": "https://hooks.example.com/in"}),
                            content_type="application/json")
    assert response.status_code == 200, response.json()

    dns["hooks.example.com"] = "169.254.169.254"  # the cloud metadata service
    outcome = _deliver(Project.objects.get(pk=world.project.pk))
    assert outcome == ("refused: Webhook URLs must point at a public address; "
                       "169.254.169.254 (hooks.example.com) is link-local.")
    assert retries == []
    assert "refused" in caplog.text


def test_it_refuses_at_delivery_a_private_url_saved_earlier(
    world: World, receiver: Receiver, settings: Any, retries: list[int]
) -> None:
    project = _hook(world, receiver.url)
    settings.WEBHOOK_ALLOW_PRIVATE = False
    assert _deliver(project).startswith("refused: ")
    assert receiver.deliveries == [] and retries == []


# --- The secret --------------------------------------------------------------------------


def test_the_api_generates_shows_and_rotates_the_secret(
    client: Client, world: World, dns: dict[str, str]
) -> None:
    dns["hooks.example.com"] = PUBLIC_IP
    url = reverse("api:project-detail", kwargs={"project_id": world.project.pk})
    client.force_login(world.admin)

    first = client.patch(url, json.dumps({"webhook_url": "https://hooks.example.com/a"}),
                         content_type="application/json").json()
    assert first["webhook_url"] == "https://hooks.example.com/a"
    assert first["webhook_secret"] == Project.objects.get(pk=world.project.pk).webhook_secret
    # A new URL keeps the secret; rotating replaces it.
    second = client.patch(url, json.dumps({"webhook_url": "https://hooks.example.com/b"}),
                          content_type="application/json").json()
    assert second["webhook_secret"] == first["webhook_secret"]
    third = client.patch(url, json.dumps({"rotate_webhook_secret": True}),
                         content_type="application/json").json()
    assert third["webhook_secret"] not in ("", first["webhook_secret"])
    # Never in the audit log, nor shown to other roles.
    audit = json.dumps(list(AuditEvent.objects.values("before", "after")))
    assert first["webhook_secret"] not in audit and third["webhook_secret"] not in audit
    client.force_login(world.editor)
    assert "webhook_secret" not in client.get(url).json()


def test_the_settings_page_shows_and_rotates_the_secret(
    client: Client, world: World, dns: dict[str, str]
) -> None:
    dns["hooks.example.com"] = PUBLIC_IP
    client.force_login(world.admin)
    page = reverse("project_settings", kwargs={"project_id": world.project.pk})
    response = client.post(page, {"name": world.project.name,
                                  "webhook_url": "hooks.example.com/in"})
    assert response.status_code == 302
    project = Project.objects.get(pk=world.project.pk)
    assert project.webhook_url == "https://hooks.example.com/in"
    assert project.webhook_secret in client.get(page).content.decode()

    assert client.post(page, {"rotate_webhook_secret": "1"}).status_code == 302
    rotated = Project.objects.get(pk=world.project.pk).webhook_secret
    assert rotated != project.webhook_secret
    assert rotated in client.get(page).content.decode()
    client.force_login(world.editor)
    assert client.post(page, {"rotate_webhook_secret": "1"}).status_code == 403
    assert Project.objects.get(pk=world.project.pk).webhook_secret == rotated
