"""The gate on the models page, in promote and in the API: a version that did not pass is
promoted only with an admin's recorded reason; one whose drafts all failed never."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from generation.gate import GateDraft, held_out_briefs, score_gate
from generation.training import SFTExample
from studio.models import AuditEvent, ModelVersion, Project
from studio.services import training as svc
from studio.services.errors import Refused, WrongState
from tests.conftest import World
from tests.studio.training.test_services import _version

pytestmark = pytest.mark.django_db

XSS = '<script>alert(1)</script><img src=x onerror="alert(2)">'
LIVE = f"Coffee is nice. {XSS}"  # what the live model writes: off the house style
FINALS = [f"Ahoy from Harbor Lane! Blend {i} is bold. Warmly, the crew." for i in range(6)]


def _gate(candidate: str, *, fail: bool = False) -> dict[str, Any]:
    """A real gate report: the candidate writes ``candidate`` (or the house style when
    ``candidate`` is "house"), the live model writes LIVE."""
    briefs = held_out_briefs([
        SFTExample([{"role": "user", "content": f"Blurb for blend {i}. {XSS}"}], text)
        for i, text in enumerate(FINALS)], limit=16)
    cand = [GateDraft("", error="adapter cannot be loaded") if fail
            else GateDraft(b.final if candidate == "house" else candidate) for b in briefs]
    inc = [GateDraft(LIVE) for _ in briefs]
    return score_gate(briefs, cand, inc, candidate_name="the candidate",
                      incumbent_name="base model", resamples=300).to_dict()


def _candidate(world: World, tmp_path: Path, gate: dict[str, Any], n: int = 1) -> ModelVersion:
    return _version(world, tmp_path, 300 + n, "ready", gate=gate)


def test_a_version_that_passed_the_gate_promotes_without_a_reason(
    world: World, tmp_path: Path
) -> None:
    version = _candidate(world, tmp_path, _gate("house"))
    assert version.gate_passed is True
    svc.model_promote(user=world.admin, version_id=version.pk)
    version.refresh_from_db()
    assert version.status == "live" and version.gate_override == {}


def test_a_version_that_did_not_pass_needs_a_reason_which_is_recorded(
    world: World, tmp_path: Path
) -> None:
    version = _candidate(world, tmp_path, _gate(LIVE))
    assert version.gate["verdict"] == "not_better"
    for reason in ("", "   "):
        with pytest.raises(Refused, match="did not pass the gate.*give a reason"):
            svc.model_promote(user=world.admin, version_id=version.pk, reason=reason)
    world.project.refresh_from_db()
    assert world.project.live_model is None
    assert not AuditEvent.objects.filter(verb="model.promote").exists()

    svc.model_promote(user=world.admin, version_id=version.pk,
                      reason="  The held-out set is three\nbriefs; we judged by hand. ")
    version.refresh_from_db()
    assert version.status == "live"
    assert version.gate_override["reason"] == "The held-out set is three briefs; we judged by hand."
    assert version.gate_override["by"] == world.admin.username
    assert version.gate_override["verdict"] == "not_better"
    event = AuditEvent.objects.get(verb="model.promote")
    assert event.after["override"]["reason"] == version.gate_override["reason"]


def test_a_candidate_whose_drafts_all_failed_is_refused_even_with_a_reason(
    world: World, tmp_path: Path
) -> None:
    version = _candidate(world, tmp_path, _gate("", fail=True))
    with pytest.raises(WrongState, match="wrote no usable draft"):
        svc.model_promote(user=world.admin, version_id=version.pk, reason="please")
    assert Project.objects.get(pk=world.project.pk).live_model is None
    assert ModelVersion.objects.get(pk=version.pk).status == "ready"


def test_a_gate_with_no_held_out_brief_says_so_and_needs_a_reason(
    world: World, tmp_path: Path
) -> None:
    gate = score_gate([], [], []).to_dict()
    version = _candidate(world, tmp_path, gate)
    with pytest.raises(Refused, match="No held-out briefs"):
        svc.model_promote(user=world.admin, version_id=version.pk)
    svc.model_promote(user=world.admin, version_id=version.pk, reason="first version")
    assert ModelVersion.objects.get(pk=version.pk).status == "live"


def test_the_models_page_shows_the_pairs_side_by_side_escaped_and_asks_for_a_reason(
    client: Any, world: World, tmp_path: Path
) -> None:
    client.force_login(world.admin)
    passed = _candidate(world, tmp_path, _gate("house"), n=1)
    refused = _candidate(world, tmp_path, _gate(LIVE), n=2)
    failed = _candidate(world, tmp_path, _gate("", fail=True), n=3)
    url = reverse("model_versions", kwargs={"project_id": world.project.pk})
    body = client.get(url).content.decode()
    assert "<script>alert(1)" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    for v in (passed, refused, failed):
        assert f'id="gate-{v.pk}"' in body
    assert body.count('class="gate-pair"') == 3 * len(FINALS)
    assert FINALS[0] in body  # the approved text next to the drafts
    assert f'id="promote-anyway-{refused.pk}"' in body
    assert f'id="promote-anyway-{passed.pk}"' not in body
    assert "cannot be promoted: it wrote no usable draft" in body

    # Promote anyway without a reason: the page says why and nothing changes.
    promote = reverse("model_promote", kwargs={"version_id": refused.pk})
    page = client.post(promote, {"reason": ""}, follow=True).content.decode()
    assert "did not pass the gate" in page
    assert Project.objects.get(pk=world.project.pk).live_model is None
    client.post(promote, {"reason": "Tone matters more than these briefs show."})
    refused.refresh_from_db()
    assert refused.status == "live"
    body = client.get(url).content.decode()
    assert "promoted anyway by admin" in body and "Tone matters more" in body


def test_the_api_shows_the_gate_and_takes_a_reason(
    client: Any, world: World, tmp_path: Path
) -> None:
    client.force_login(world.admin)
    version = _candidate(world, tmp_path, _gate(LIVE))
    url = reverse("api:model-version-promote", kwargs={"version_id": version.pk})
    answer = client.post(url, {}, content_type="application/json")
    assert answer.status_code == 400, answer.content
    assert "did not pass the gate" in answer.json()["reason"][0]
    assert client.post(url, {"status": "live"},
                       content_type="application/json").status_code == 400
    answer = client.post(url, {"reason": "judged by hand"}, content_type="application/json")
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert data["status"] == "live" and data["gate_override"]["reason"] == "judged by hand"
    assert data["gate"]["verdict"] == "not_better" and len(data["gate"]["pairs"]) == len(FINALS)
