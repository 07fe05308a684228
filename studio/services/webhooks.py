"""Outgoing webhooks (issue 7): a project's events POSTed to its URL, signed.

* Events: ``drafts.ready`` (a generation job's drafts are saved) and
  ``training.finished`` (a training job succeeded, failed or was cancelled). The services
  that write those rows call :func:`webhook_drafts_ready` / :func:`webhook_training_finished`
  inside their transaction; :func:`webhook_emit` builds the payload there and enqueues
  ``deliver_webhook`` on commit, so a rolled-back write sends nothing.
* Delivery (:func:`webhook_deliver`, called by the task): JSON body, headers
  ``X-Studio-Event``, ``X-Studio-Delivery`` (the event's uuid, the same on every retry so
  receivers can drop duplicates), ``X-Studio-Timestamp`` and ``X-Studio-Signature:
  sha256=<hex HMAC-SHA256 of "{timestamp}.{body}" with the project's secret>``. 5 s
  timeout per socket operation, redirects never followed. Network errors, 5xx and 429
  raise :class:`WebhookRetry` (the task retries with backoff); any other answer is final.
* SSRF guard: a URL must be http(s) with a host, and every address the host resolves to
  must be public (:func:`webhook_url_check`). Checked when the URL is saved and again at
  each delivery (DNS may have changed since); the connection then goes to an address
  that was just checked, never to a second lookup's answer (no DNS rebinding).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
import uuid
from typing import Any
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from studio.models import Draft, GenerationJob, ModelVersion, Project, TrainingJob
from studio.services.jobs import task_send

logger = logging.getLogger(__name__)

DRAFTS_READY = "drafts.ready"
TRAINING_FINISHED = "training.finished"
EVENTS = (DRAFTS_READY, TRAINING_FINISHED)

# Sent by name (queue ``default``, by its route): this module never imports the task.
DELIVER_TASK = "studio.tasks.webhooks.deliver_webhook"

TIMEOUT_S = 5.0
# Attempts in all (the first and its retries) and the longest wait between two.
MAX_ATTEMPTS = 6
BACKOFF_CAP_S = 300
# Bytes of the receiver's answer kept for the log; the rest is never read.
RESPONSE_PEEK = 200

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookRefused(Exception):
    """The URL is not allowed (not http(s), no host, or a non-public address)."""


class WebhookRetry(Exception):
    """A delivery that may succeed later: network error, 5xx or 429."""


# --- The URL guard ------------------------------------------------------------------------


def webhook_secret_new() -> str:
    return secrets.token_urlsafe(32)


def _non_public_reason(address: Address) -> str | None:
    """Why ``address`` must not be called, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for reason, hit in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    ):
        if hit:
            return reason
    # Shared (CGNAT 100.64/10), 6to4 and other special-purpose ranges that none of the
    # above names.
    return None if address.is_global else "not a public address"


def _split(url: str) -> tuple[SplitResult, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise WebhookRefused("Webhook URLs must start with http:// or https://.")
    host = parts.hostname
    if not host:
        raise WebhookRefused("Webhook URLs must name a host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookRefused("The webhook URL's port is not a number from 1 to 65535.") from exc
    return parts, host, port


def _resolve(host: str, port: int) -> list[Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookRefused(f"The webhook host {host} cannot be resolved.") from exc
    addresses: list[Address] = []
    for info in infos:
        # An IPv6 answer may carry a zone ("fe80::1%eth0").
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise WebhookRefused(f"The webhook host {host} cannot be resolved.")
    return addresses


def webhook_url_check(url: str) -> list[Address]:
    """The addresses ``url`` may be called at; raises WebhookRefused, with a message for
    the admin, when it is not http(s), has no host, or any address its host resolves to
    is loopback, private, link-local, multicast, reserved or unspecified.

    settings.WEBHOOK_ALLOW_PRIVATE lifts only the address rule (tests deliver to a local
    server); it is false by default and must stay false in production.
    """
    _parts, host, port = _split(url)
    addresses = _resolve(host, port)
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        for address in addresses:
            reason = _non_public_reason(address)
            if reason is not None:
                named = "" if str(address) == host.strip("[]") else f" ({host})"
                raise WebhookRefused(
                    f"Webhook URLs must point at a public address; {address}{named} is {reason}."
                )
    return addresses


def webhook_url_validate(url: str) -> None:
    """The save-time check: WebhookRefused as a field error of ``webhook_url``."""
    if not url:
        return
    try:
        webhook_url_check(url)
    except WebhookRefused as exc:
        raise ValidationError({"webhook_url": str(exc)}) from exc


# --- Events ----------------------------------------------------------------------------


def webhook_emit(project: Project, event: str, payload: dict[str, Any]) -> str | None:
    """Queue ``event`` for the project's URL once the current transaction commits;
    nothing (None) when the project has no webhook. Returns the event id."""
    if not project.webhook_url:
        return None
    assert event in EVENTS, event
    event_id = str(uuid.uuid4())
    project_id = project.pk
    transaction.on_commit(lambda: _send(project_id, event, payload, event_id))
    return event_id


def _send(project_id: int, event: str, payload: dict[str, Any], event_id: str) -> None:
    try:
        task_send(DELIVER_TASK, project_id, event, payload, event_id)
    except Exception:  # noqa: BLE001 - any broker error: the event is lost, say so
        logger.warning("Broker unreachable; webhook %s %s of project %s not sent",
                       event, event_id, project_id)


def webhook_drafts_ready(*, job: GenerationJob, project: Project, drafts: list[Draft]) -> None:
    """Emit ``drafts.ready`` for a job whose drafts were just saved."""
    if not project.webhook_url:
        return
    version = (ModelVersion.objects.filter(pk=job.model_version_id).values("id", "number").first()
               if job.model_version_id else None)
    webhook_emit(project, DRAFTS_READY, {
        "project_id": project.pk,
        "brief_id": job.brief_id,
        "job_id": job.pk,
        "drafts": [{"id": d.pk, "variant": d.variant} for d in drafts],
        "model_version": version,
    })


def webhook_training_finished(*, job_id: int) -> None:
    """Emit ``training.finished`` for a job that just ended (succeeded, failed or
    cancelled), with the version it registered and its metrics, if any."""
    job = TrainingJob.objects.select_related("project").get(pk=job_id)
    if not job.project.webhook_url:
        return
    version = ModelVersion.objects.filter(training_job=job).values("id", "number",
                                                                   "metrics").first()
    webhook_emit(job.project, TRAINING_FINISHED, {
        "project_id": job.project_id,
        "job_id": job.pk,
        "status": job.status,
        "error": job.error,
        "model_version": (
            {"id": version["id"], "number": version["number"]} if version else None
        ),
        "metrics": version["metrics"] if version else None,
    })


# --- Delivery --------------------------------------------------------------------------


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address checked by webhook_url_check, not to a fresh DNS answer."""

    def __init__(self, host: str, port: int, *, address: Address, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self.address), self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The same over TLS; the certificate is still verified against the URL's host name."""

    def __init__(self, host: str, port: int, *, address: Address, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address
        self.tls = ssl.create_default_context()

    def connect(self) -> None:
        sock = socket.create_connection((str(self.address), self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def _post(url: str, addresses: list[Address], body: bytes,
          headers: dict[str, str]) -> tuple[int, bytes]:
    parts, host, port = _split(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    cls = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    last_error: OSError | None = None
    for address in addresses:
        conn = cls(host, port, address=address, timeout=TIMEOUT_S)
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read(RESPONSE_PEEK)
        except (OSError, http.client.HTTPException) as exc:
            last_error = exc if isinstance(exc, OSError) else OSError(str(exc))
            if conn.sock is not None:
                break  # connected and then failed: do not POST the event twice here
        finally:
            conn.close()
    raise WebhookRetry(f"network error: {last_error}")


def webhook_deliver(*, project_id: int, event: str, payload: dict[str, Any],
                    event_id: str) -> str:
    """POST one event to the project's current URL. Returns what happened ("delivered",
    "refused …", "failed …", "skipped …"); raises WebhookRetry when it may work later."""
    project = (Project.objects.filter(pk=project_id).only("webhook_url", "webhook_secret")
               .first())
    if project is None or not project.webhook_url:
        return "skipped: no webhook URL"
    url = project.webhook_url
    try:
        addresses = webhook_url_check(url)
    except WebhookRefused as exc:
        # The host now resolves somewhere it must not: retrying would not make it safe.
        logger.warning("webhook %s %s of project %s refused: %s", event, event_id,
                       project_id, exc)
        return f"refused: {exc}"
    body = json.dumps(
        {"id": event_id, "event": event, "created_at": timezone.now().isoformat(),
         "data": payload},
        separators=(",", ":"), sort_keys=True,
    ).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "ContentStudio-Webhooks/1",
        "X-Studio-Event": event,
        "X-Studio-Delivery": event_id,
        "X-Studio-Timestamp": timestamp,
        "X-Studio-Signature": webhook_signature(secret=project.webhook_secret,
                                                timestamp=timestamp, body=body),
    }
    status, answer = _post(url, addresses, body, headers)
    if 200 <= status < 300:
        logger.info("webhook %s %s of project %s delivered (%s)", event, event_id,
                    project_id, status)
        return "delivered"
    if status == 429 or status >= 500:
        raise WebhookRetry(f"HTTP {status}")
    # 3xx (redirects are not followed) and 4xx: the receiver said no; retrying won't help.
    logger.warning("webhook %s %s of project %s: HTTP %s, not retried: %r", event, event_id,
                   project_id, status, answer[:RESPONSE_PEEK])
    return f"failed: HTTP {status}"
