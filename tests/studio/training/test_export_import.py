"""Training data that reads and travels: the examples page shows the brief; exports
carry plain chat turns (TRL and OpenAI, SFT and DPO) with the snapshot hash; a studio
export imports into another project of the same team with the same snapshot hash."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from studio.models import AuditEvent, DatasetSnapshot, TrainingExample
from studio.selectors.training import training_export
from studio.services import training as svc
from studio.services.reviews import review_approve, review_reject
from tests.conftest import World
from tests.factories import BriefFactory, DraftFactory, GenerationJobFactory, ProjectFactory

SYSTEM = {"role": "system", "content": "You write for Alpha. Brand voice: warm."}


def _draft(world: World, project: Any, text: str, *, title: str = "Autumn roast",
           variant: int = 0, brief: Any = None) -> Any:
    brief = brief or BriefFactory(project=project, author=world.marketer, kind="ad_copy",
                                  title=title, audience="Home baristas", tone="Warm",
                                  keywords=["roast", "autumn"],
                                  extra={"product": "Autumn blend", "channel": "email"})
    messages = [SYSTEM, {"role": "user", "content": f"Write ad copy: {brief.title}."}]
    rendered = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return DraftFactory(job=GenerationJobFactory(brief=brief), variant=variant, text=text,
                        current_text=text, prompt=rendered + "<|im_start|>assistant\n",
                        params={"messages": messages})


def _examples(world: World, project: Any, user: Any = None) -> None:
    """An approval, an approval with edits and a rejected variant of an approved brief."""
    user = user or world.editor
    one = _draft(world, project, "Autumn blend: warm, round, ready.", title="One")
    review_approve(user=user, draft_id=one.pk, version=one.version)
    two = _draft(world, project, "A world-class roast.", title="Two")
    review_approve(user=user, draft_id=two.pk, version=two.version, text="A careful roast.")
    good = _draft(world, project, "Good variant.", title="Three")
    bad = _draft(world, project, "bad variant lol", brief=good.job.brief, variant=1)
    review_approve(user=user, draft_id=good.pk, version=good.version)
    review_reject(user=user, draft_id=bad.pk, version=bad.version, reason_tags=["tone"])


def _lines(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.decode().splitlines()]


def test_the_examples_page_shows_the_brief_not_the_template(world: World, client: Any) -> None:
    _examples(world, world.project)
    # A draft from before drafts kept their messages: its prompt as the model saw it.
    old = DraftFactory(job=GenerationJobFactory(brief=BriefFactory(
        project=world.project, author=world.marketer, title="Old <b>brief</b>")), variant=0)
    review_approve(user=world.editor, draft_id=old.pk, version=old.version)
    client.force_login(world.admin)
    page = client.get(reverse("training_examples", args=[world.project.pk])).content.decode()
    assert "<|im_start|>" not in page and "&lt;|im_start|&gt;" not in page
    assert "Autumn roast" not in page  # titles are the briefs' own
    assert page.count("<strong>One</strong>") == 1 and "Ad copy" in page
    assert "Home baristas" in page and "roast, autumn" in page and "Autumn blend" in page
    assert "Old &lt;b&gt;brief&lt;/b&gt;" in page
    example = TrainingExample.objects.filter(source_review__draft=old).get()
    assert example.prompt == [{"role": "user", "content": "Write about coffee"}]


def test_exports_carry_plain_turns_and_the_snapshot_hash(world: World, client: Any) -> None:
    _examples(world, world.project)
    client.force_login(world.admin)
    url = reverse("training_export", args=[world.project.pk])
    expected_hash = svc.snapshot_build(project=world.project).content_hash

    bodies = {}
    for fmt in ("sft", "openai", "dpo", "openai_dpo", "studio"):
        response = client.get(url, {"format": fmt})
        assert response.status_code == 200
        assert response["X-Studio-Snapshot"] == expected_hash
        assert expected_hash[:12] in response["Content-Disposition"]
        assert b"<|im_start|>" not in response.content
        bodies[fmt] = _lines(response.content)

    # SFT: the system and user turns as they were, then the approved text; never the
    # rendered prompt in one user message.
    assert len(bodies["sft"]) == 3
    first = bodies["sft"][0]["messages"]
    assert first == [SYSTEM, {"role": "user", "content": "Write ad copy: One."},
                     {"role": "assistant", "content": "Autumn blend: warm, round, ready."}]
    assert bodies["openai"] == bodies["sft"]
    # DPO: the edit, and the rejected variant under the approved one of the same brief.
    pairs = {(r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in bodies["dpo"]}
    assert pairs == {("A careful roast.", "A world-class roast."),
                     ("Good variant.", "bad variant lol")}
    assert bodies["dpo"][0]["prompt"][0] == SYSTEM
    assert {(r["preferred_output"][0]["content"], r["non_preferred_output"][0]["content"])
            for r in bodies["openai_dpo"]} == pairs
    assert bodies["openai_dpo"][0]["input"]["messages"][0] == SYSTEM
    header = bodies["studio"][0]
    assert (header["content_hash"], header["team"], header["examples"]) == (
        expected_hash, world.team.pk, 5)

    api = client.get(reverse("api:project-training-export", args=[world.project.pk]),
                     {"records": "openai_dpo"})
    assert api.status_code == 200 and api["X-Studio-Snapshot"] == expected_hash
    assert client.get(reverse("api:project-training-export", args=[world.project.pk]),
                      {"records": "csv"}).status_code == 400


def _studio_export(world: World, project: Any, user: Any) -> bytes:
    return training_export(user, project=project, fmt="studio").body.encode()


def _import(client: Any, project: Any, data: bytes) -> Any:
    return client.post(reverse("training_import", args=[project.pk]),
                       {"file": SimpleUploadedFile("export.jsonl", data)}, follow=True)


def test_an_export_imports_into_another_project_with_the_same_hash(world: World,
                                                                   client: Any) -> None:
    _examples(world, world.project)
    data = _studio_export(world, world.project, world.admin)
    source_hash = svc.snapshot_build(project=world.project).content_hash
    target = ProjectFactory(team=world.team, name="Alpha shop")
    client.force_login(world.admin)

    page = _import(client, target, data).content.decode()
    assert "Imported 5 examples (0 already here)" in page and source_hash[:12] in page
    row = DatasetSnapshot.objects.get(project=target)
    assert row.content_hash == source_hash
    assert svc.snapshot_rebuild(row).content_hash == source_hash
    assert svc.snapshot_build(project=target).content_hash == source_hash
    assert TrainingExample.objects.filter(project=target).count() == 5
    assert AuditEvent.objects.filter(verb="examples.import").count() == 1

    # Twice is the same: nothing new, the same snapshot.
    assert "Imported 0 examples (5 already here)" in _import(client, target, data).content.decode()
    assert TrainingExample.objects.filter(project=target).count() == 5
    assert DatasetSnapshot.objects.filter(project=target).count() == 1

    # The API does the same, and answers with the snapshot.
    third = ProjectFactory(team=world.team, name="Alpha wholesale")
    response = client.post(reverse("api:project-training-import", args=[third.pk]),
                           {"file": SimpleUploadedFile("export.jsonl", data)})
    assert response.status_code == 201
    assert response.json()["snapshot"]["content_hash"] == source_hash
    assert response.json()["created"] == 5


def _refused(client: Any, world: World, data: bytes, message: str) -> None:
    before = (TrainingExample.objects.count(), DatasetSnapshot.objects.count(),
              AuditEvent.objects.count())
    page = _import(client, world.project, data).content.decode()
    assert message in page, page[:2000]
    response = client.post(reverse("api:project-training-import", args=[world.project.pk]),
                           {"file": SimpleUploadedFile("export.jsonl", data)})
    assert response.status_code == 400 and "file" in response.json()
    assert (TrainingExample.objects.count(), DatasetSnapshot.objects.count(),
            AuditEvent.objects.count()) == before


def test_a_file_of_another_team_is_refused_and_changes_nothing(world: World,
                                                              client: Any) -> None:
    _examples(world, world.other_project, user=world.outsider)
    data = _studio_export(world, world.other_project, world.outsider)
    client.force_login(world.admin)
    _refused(client, world, data, "exported from another team&#x27;s project")
    # Claiming to be team A does not help: the signature names the team.
    header, *rest = data.decode().splitlines()
    forged = json.loads(header) | {"team": world.team.pk}
    _refused(client, world, "\n".join([json.dumps(forged), *rest]).encode(),
             "signature does not match")


@pytest.mark.parametrize(("change", "message"), [
    (lambda lines: [], "The file is empty"),
    (lambda lines: ["not json"], "not a Content Studio export"),
    (lambda lines: lines[1:], "looks like a file for a trainer"),
    (lambda lines: lines[:-1], "names 5 examples but holds 4"),
    (lambda lines: [lines[0], *lines[1:-1], lines[-1].replace("lol", "LOL")], "do not rebuild"),
    (lambda lines: [lines[0], *lines[1:-1], "{\"kind\": \"sft\", \"prompt\": []}"], "Line 6"),
    (lambda lines: [lines[0], *lines[1:-1], "[1, 2]"], "Line 6 is not an example"),
])
def test_a_malformed_or_edited_file_is_refused_and_changes_nothing(
        world: World, client: Any, change: Any, message: str) -> None:
    _examples(world, world.project)
    lines = _studio_export(world, world.project, world.admin).decode().splitlines()
    client.force_login(world.admin)
    _refused(client, world, "\n".join(change(lines)).encode(), message)


def test_a_file_that_is_not_text_is_refused(world: World, client: Any) -> None:
    client.force_login(world.admin)
    _refused(client, world, b"\xff\xfe\x00binary", "not UTF-8")


def test_the_migration_gives_older_examples_their_plain_turns(world: World) -> None:
    rendered = ("<|im_start|>system\nBe warm.<|im_end|>\n<|im_start|>user\nWrite.<|im_end|>\n"
                "<|im_start|>assistant\n")
    old = TrainingExample.objects.create(project=world.project, kind="sft",
                                         content_kind="article", completion="Text.",
                                         prompt=[{"role": "user", "content": rendered}])
    plain = TrainingExample.objects.create(project=world.project, kind="sft",
                                           content_kind="article", completion="Text.",
                                           prompt=[{"role": "user", "content": "Write."}])
    migration = importlib.import_module("studio.migrations.0014_edit_cost_and_preference_notes")
    migration.plain_example_prompts(apps, None)
    old.refresh_from_db()
    plain.refresh_from_db()
    assert old.prompt == [{"role": "system", "content": "Be warm."},
                          {"role": "user", "content": "Write."}]
    assert plain.prompt == [{"role": "user", "content": "Write."}]


def test_a_file_over_the_limit_is_refused_without_reading_it_all(
        world: World, client: Any, monkeypatch: Any) -> None:
    from studio.services.training import imports

    monkeypatch.setattr(imports, "IMPORT_MAX_BYTES", 1024)
    client.force_login(world.admin)
    _refused(client, world, b"x" * 5000, "The file is larger than")
