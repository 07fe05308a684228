"""Training pages: render, escape untrusted text, constant queries, htmx, export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from studio.models import TrainingExample, TrainingJob
from studio.services import training as svc
from tests.conftest import World
from tests.studio.training.conftest import add_examples

pytestmark = pytest.mark.django_db

XSS = '<script>alert(1)</script><img src=x onerror="alert(2)"> hx-get="/x"'


@pytest.fixture
def admin(client: Any, world: World) -> Any:
    client.force_login(world.admin)
    return client


def _examples_url(world: World, **query: str) -> str:
    url = reverse("training_examples", kwargs={"project_id": world.project.pk})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_it_renders_the_training_pages(admin: Any, world: World) -> None:
    add_examples(world.project, 3)
    pid = world.project.pk
    home = admin.get(reverse("training_home", kwargs={"project_id": pid}))
    assert home.status_code == 200
    body = home.content.decode()
    assert "Start training" in body and "3 approved texts" in body
    assert reverse("training_export", kwargs={"project_id": pid}) in body
    assert admin.get(reverse("model_versions", kwargs={"project_id": pid})).status_code == 200
    detail = admin.get(reverse("project_detail", kwargs={"project_id": pid})).content.decode()
    assert reverse("training_home", kwargs={"project_id": pid}) in detail


def test_it_says_before_the_click_how_many_more_approvals_a_retrain_needs(
    admin: Any, world: World
) -> None:
    import re

    from django.core.exceptions import ValidationError

    add_examples(world.project, 3)
    url = reverse("training_home", kwargs={"project_id": world.project.pk})
    body = admin.get(url).content.decode()
    more = int(re.search(r"Approve (\d+) more draft", body).group(1))  # type: ignore[union-attr]
    assert 'id="start-training-button" disabled' in body
    # The page and the refusal of a click agree on the number.
    with pytest.raises(ValidationError, match=rf"Approve or edit {more} more draft"):
        svc.training_job_start(user=world.admin, project_id=world.project.pk)
    add_examples(world.project, 12, start=100)
    body = admin.get(url).content.decode()
    assert "more draft" not in body and 'id="training-ready"' in body
    assert 'id="start-training-button">' in body


def test_it_hides_the_training_link_from_non_admins(client: Any, world: World) -> None:
    client.force_login(world.editor)
    detail = client.get(reverse("project_detail", kwargs={"project_id": world.project.pk}))
    assert 'id="training-link"' not in detail.content.decode()


def test_it_shows_example_text_escaped(admin: Any, world: World) -> None:
    add_examples(world.project, 1, text=XSS, kind=TrainingExample.Kind.PREFERENCE)
    body = admin.get(_examples_url(world)).content.decode()
    assert "<script>alert(1)" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_it_lists_examples_in_constant_queries(admin: Any, world: World) -> None:
    add_examples(world.project, 3)
    with CaptureQueriesContext(connection) as few:
        assert admin.get(_examples_url(world)).status_code == 200
    add_examples(world.project, 40, start=100, kind=TrainingExample.Kind.PREFERENCE)
    with CaptureQueriesContext(connection) as many:
        assert admin.get(_examples_url(world)).status_code == 200
    assert len(many) == len(few)


def test_it_filters_searches_and_answers_htmx_with_the_results_only(
    admin: Any, world: World
) -> None:
    add_examples(world.project, 2, text="Arabica beans from the hills")
    add_examples(world.project, 2, kind=TrainingExample.Kind.NEGATIVE, start=10)
    body = admin.get(_examples_url(world, q="arabica")).content.decode()
    assert "2 examples" in body
    body = admin.get(_examples_url(world, kind="negative")).content.decode()
    assert "2 examples" in body and "Arabica" not in body
    fragment = admin.get(_examples_url(world, kind="sft"), headers={"HX-Request": "true"})
    text = fragment.content.decode()
    assert 'id="example-results"' in text and "<html" not in text
    # Unknown filter values are ignored, not an error.
    assert admin.get(_examples_url(world, kind="password", state="x")).status_code == 200


def test_it_excludes_and_includes_an_example_with_htmx(admin: Any, world: World) -> None:
    (example,) = add_examples(world.project, 1)
    url = reverse("training_example_exclude", kwargs={"example_id": example.pk})
    row = admin.post(url, {"excluded": "1"}, headers={"HX-Request": "true"})
    assert row.status_code == 200
    assert f'id="example-{example.pk}"' in row.content.decode() and "Include" in row.content.decode()
    example.refresh_from_db()
    assert example.excluded
    admin.post(url, {"excluded": "0"}, headers={"HX-Request": "true"})
    example.refresh_from_db()
    assert not example.excluded


def test_it_exports_the_jsonl_trl_reads_without_excluded_or_foreign_rows(
    admin: Any, world: World
) -> None:
    add_examples(world.project, 3)
    add_examples(world.project, 2, kind=TrainingExample.Kind.PREFERENCE, start=10)
    (hidden,) = add_examples(world.project, 1, text="EXCLUDED-ROW", start=50)
    hidden.excluded = True
    hidden.save()
    add_examples(world.other_project, 3, text="CANARY-BETA-export")
    add_examples(world.other_project, 3, kind=TrainingExample.Kind.PREFERENCE,
                 text="CANARY-BETA-dpo")
    url = reverse("training_export", kwargs={"project_id": world.project.pk})
    sft = admin.get(url + "?format=sft")
    assert sft["Content-Disposition"].startswith("attachment")
    lines = [json.loads(x) for x in sft.content.decode().splitlines()]
    assert len(lines) == 3
    assert [m["role"] for m in lines[0]["messages"]] == ["system", "user", "assistant"]
    dpo = [json.loads(x) for x in admin.get(url + "?format=dpo").content.decode().splitlines()]
    assert len(dpo) == 2 and set(dpo[0]) == {"prompt", "chosen", "rejected"}
    everything = sft.content.decode() + json.dumps(dpo)
    assert "CANARY" not in everything and "EXCLUDED-ROW" not in everything
    assert admin.get(url + "?format=xml").status_code == 400


def test_it_says_how_many_examples_are_needed_and_queues_nothing(
    admin: Any, world: World
) -> None:
    add_examples(world.project, 2)
    response = admin.post(reverse("training_start", kwargs={"project_id": world.project.pk}),
                          {"method": "sft"}, follow=True)
    assert "at least 8" in response.content.decode()
    assert not TrainingJob.objects.filter(status="queued").exists()


def test_it_starts_a_job_and_polls_its_progress_until_it_ends(
    admin: Any, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    add_examples(world.project, 12)
    with django_capture_on_commit_callbacks(execute=False):
        response = admin.post(
            reverse("training_start", kwargs={"project_id": world.project.pk}),
            {"method": "sft"},
        )
    job = TrainingJob.objects.get(project=world.project, status="queued")
    assert response["Location"] == reverse("training_job", kwargs={"job_id": job.pk})
    TrainingJob.objects.filter(pk=job.pk).update(
        status="running", step=3, total_steps=10, eta_seconds=42, phase="sft",
        loss_curve=[{"phase": "sft", "step": 1, "loss": 2.5},
                    {"phase": "sft", "step": 2, "loss": 2.0, "eval_loss": 2.2}],
        log_tail="sft step 2/10: loss=2.0 <b>x</b>",
    )
    url = reverse("training_job", kwargs={"job_id": job.pk})
    page = admin.get(url).content.decode()
    assert "chart-4.6.1.umd.min.js" in page and "data-chart-url" in page
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    poll = admin.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 2s"' in poll and ">3<" in poll and "under a minute" in poll and "42 s" not in poll
    assert "<html" not in poll
    chart = admin.get(reverse("training_job_chart", kwargs={"job_id": job.pk})).json()
    assert chart["train"] == [2.5, 2.0] and chart["eval"] == [None, 2.2] and chart["active"]
    TrainingJob.objects.filter(pk=job.pk).update(status="failed", error="boom")
    poll = admin.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in poll and "boom" in poll  # the trigger is dropped: polling stops
    assert not admin.get(reverse("training_job_chart", kwargs={"job_id": job.pk})).json()["active"]


def test_it_promotes_from_the_models_page_and_shows_both_losses(
    admin: Any, world: World, tmp_path: Path
) -> None:
    from tests.studio.training.test_services import _version

    version = _version(world, tmp_path, 1, "ready", metrics={
        "candidate": {"eval_loss": 1.2345, "perplexity": 3.44},
        "incumbent": {"name": "base model", "eval_loss": 2.5, "perplexity": 12.18},
        "candidate_wins": True,
    })
    page = admin.get(reverse("model_versions", kwargs={"project_id": world.project.pk}))
    body = page.content.decode()
    assert "1.2345" in body and "2.5000" in body and "12.18" in body and "Promote" in body
    done = admin.post(reverse("model_promote", kwargs={"version_id": version.pk}), follow=True)
    assert f"v{version.number} is now live" in done.content.decode()
    world.project.refresh_from_db()
    assert world.project.live_model_id == version.pk
    # Promoting it again: a clear message, nothing changes.
    again = admin.post(reverse("model_promote", kwargs={"version_id": version.pk}), follow=True)
    assert "only a ready version" in again.content.decode()


def test_it_cancels_from_the_job_page(admin: Any, world: World) -> None:
    add_examples(world.project, 12)
    job = svc.training_job_start(user=world.admin, project_id=world.project.pk)
    admin.post(reverse("training_job_cancel", kwargs={"job_id": job.pk}))
    job.refresh_from_db()
    assert job.status == "cancelled"
