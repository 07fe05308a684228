"""What the review decisions teach: SFT texts, edit pairs and rejected-draft pairs, the
same in a snapshot and in the DPO export, never across projects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from studio.models import Draft, TrainingExample
from studio.services import training as svc
from studio.services.reviews import review_approve, review_reject
from tests.conftest import World
from tests.factories import DraftFactory, GenerationJobFactory
from tests.studio.training.conftest import add_examples

pytestmark = pytest.mark.django_db

PROMPT = "<|im_start|>user\nWrite a tagline for the new roast<|im_end|>"


def _variants(world: World, texts: list[str], *, project: Any = None) -> list[Draft]:
    """One generation job of ``project`` with a pending draft per text, one prompt."""
    project = project or world.project
    brief = world.brief if project == world.project else None
    job = (GenerationJobFactory(brief=brief) if brief is not None
           else GenerationJobFactory(brief__project=project))
    return [DraftFactory(job=job, variant=i, text=text, prompt=PROMPT)
            for i, text in enumerate(texts)]


def _approve(user: Any, draft: Draft, text: str | None = None) -> None:
    review_approve(user=user, draft_id=draft.pk, version=draft.version, text=text)


def _reject(user: Any, draft: Draft) -> None:
    review_reject(user=user, draft_id=draft.pk, version=draft.version, reason_tags=["tone"])


def _pairs(project: Any) -> list[tuple[str, str]]:
    _, pref = svc.dataset_examples(project)
    return [(p.chosen, p.rejected) for p in pref]


def test_it_pairs_each_rejected_variant_with_the_approved_one(world: World) -> None:
    good, bad_1, bad_2 = _variants(world, ["Bold roast, warm cup.", "roast lol", "BUY NOW!!!"])
    _approve(world.editor, good)
    _reject(world.editor, bad_1)
    _reject(world.editor, bad_2)
    sft, _ = svc.dataset_examples(world.project)
    assert [s.completion for s in sft] == ["Bold roast, warm cup."]
    assert _pairs(world.project) == [("Bold roast, warm cup.", "roast lol"),
                                     ("Bold roast, warm cup.", "BUY NOW!!!")]
    _, pref = svc.dataset_examples(world.project)
    assert pref[0].messages == sft[0].messages


def test_it_prefers_the_editors_final_text_over_a_rejected_variant(world: World) -> None:
    edited, bad = _variants(world, ["Bold roast, warm cupp.", "roast lol"])
    _reject(world.editor, bad)
    _approve(world.editor, edited, text="Bold roast, warm cup.")
    assert _pairs(world.project) == [("Bold roast, warm cup.", "Bold roast, warm cupp."),
                                     ("Bold roast, warm cup.", "roast lol")]


def test_it_leaves_a_rejected_draft_with_no_approved_sibling_unused(world: World) -> None:
    (bad,) = _variants(world, ["roast lol"])
    _reject(world.editor, bad)
    (tea,) = _variants(world, ["Green tea, calm mornings."])
    Draft.objects.filter(pk=tea.pk).update(prompt="<|im_start|>user\nWrite about tea<|im_end|>")
    tea.refresh_from_db()
    _approve(world.editor, tea)
    assert TrainingExample.objects.filter(kind=TrainingExample.Kind.SFT).count() == 1
    assert _pairs(world.project) == []


def test_it_counts_no_excluded_example_on_either_side(world: World) -> None:
    good, bad_1, bad_2 = _variants(world, ["Bold roast, warm cup.", "roast lol", "meh"])
    _approve(world.editor, good)
    _reject(world.editor, bad_1)
    _reject(world.editor, bad_2)
    negative = TrainingExample.objects.get(rejected_completion="roast lol")
    svc.example_set_excluded(user=world.admin, example_id=negative.pk, excluded=True)
    assert _pairs(world.project) == [("Bold roast, warm cup.", "meh")]

    approved = TrainingExample.objects.get(kind=TrainingExample.Kind.SFT)
    svc.example_set_excluded(user=world.admin, example_id=approved.pk, excluded=True)
    assert _pairs(world.project) == []


def test_it_never_pairs_across_teams_even_with_the_same_prompt(world: World) -> None:
    # Beta approves one variant and rejects another of the very same prompt.
    beta_good, beta_bad = _variants(world, ["CANARY-BETA-good", "CANARY-BETA-bad"],
                                    project=world.other_project)
    _approve(world.outsider, beta_good)
    _reject(world.outsider, beta_bad)
    # Alpha has only a rejected draft, then only an approved one, of that prompt.
    (alpha_bad,) = _variants(world, ["roast lol"])
    _reject(world.editor, alpha_bad)
    assert _pairs(world.project) == []
    (alpha_good,) = _variants(world, ["Bold roast, warm cup."])
    _approve(world.editor, alpha_good)
    assert _pairs(world.project) == [("Bold roast, warm cup.", "roast lol")]
    assert _pairs(world.other_project) == [("CANARY-BETA-good", "CANARY-BETA-bad")]
    # Even a query holding both projects' rows keeps each pair inside its project.
    _, pref = svc.examples_as_dataset(TrainingExample.objects.all())
    assert sorted((p.chosen, p.rejected) for p in pref) == [
        ("Bold roast, warm cup.", "roast lol"), ("CANARY-BETA-good", "CANARY-BETA-bad")]


def test_it_builds_the_same_snapshot_whatever_order_the_decisions_came_in(
    world: World,
) -> None:
    add_examples(world.project, 10)
    first = _variants(world, ["Bold roast, warm cup.", "roast lol", "meh"])
    _reject(world.editor, first[2])
    _approve(world.editor, first[0])
    _reject(world.editor, first[1])
    one = svc.snapshot_build(project=world.project)

    TrainingExample.objects.filter(project=world.project).delete()
    add_examples(world.project, 10)
    second = _variants(world, ["Bold roast, warm cup.", "roast lol", "meh"])
    _reject(world.editor, second[1])
    _reject(world.editor, second[2])
    _approve(world.editor, second[0])
    two = svc.snapshot_build(project=world.project)
    assert one.content_hash == two.content_hash
    assert one.counts["preference_train"] + one.counts["preference_eval"] == 2


def test_it_exports_the_pairs_a_snapshot_trains_on(client: Any, world: World) -> None:
    good, bad = _variants(world, ["Bold roast, warm cup.", "roast lol"])
    _approve(world.editor, good)
    _reject(world.editor, bad)
    add_examples(world.project, 2, kind=TrainingExample.Kind.PREFERENCE, start=10)
    beta_good, beta_bad = _variants(world, ["CANARY-BETA-good", "CANARY-BETA-bad"],
                                    project=world.other_project)
    _approve(world.outsider, beta_good)
    _reject(world.outsider, beta_bad)

    client.force_login(world.admin)
    url = reverse("training_export", kwargs={"project_id": world.project.pk})
    body = client.get(url + "?format=dpo").content.decode()
    exported = [json.loads(line) for line in body.splitlines()]
    _, pref = svc.dataset_examples(world.project)
    assert exported == [p.to_record() for p in pref]
    assert len(exported) == 3
    assert (exported[-1]["chosen"][0]["content"], exported[-1]["rejected"][0]["content"]) == (
        "Bold roast, warm cup.", "roast lol")
    assert "CANARY" not in body

    snapshot, row = svc.snapshot_freeze(project=world.project)
    files = "".join(p.read_text() for p in Path(row.path).glob("preference_*.jsonl"))
    assert {json.dumps(r, sort_keys=True) for r in exported} == {
        json.dumps(json.loads(line), sort_keys=True) for line in files.splitlines()}
