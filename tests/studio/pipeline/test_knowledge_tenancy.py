"""Tenancy canaries for project knowledge: another project's or team's passages never
reach a retrieval, a job's inputs or the prompt the engine builds."""

from __future__ import annotations

from typing import Any

import pytest

from studio.selectors.knowledge import knowledge_for_brief
from studio.services.generation import job_inputs
from studio.services.knowledge import knowledge_document_create, knowledge_facts_set
from tests.conftest import World
from tests.factories import (
    BriefFactory,
    GenerationJobFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_another_projects_or_teams_knowledge_never_reaches_a_prompt(
    world: World, tmp_path: Any
) -> None:
    """Canary strings in another project of the same team and in another team's project,
    on the very words the brief asks about, never appear in a retrieval or a prompt."""
    from generation.engine import Engine
    from studio.tasks.generation import to_request

    canary_project, canary_team = "CANARY-7f3a-sister-project", "CANARY-91bc-other-team"
    sister = ProjectFactory(team=world.team, name="Sister")
    stranger = MembershipFactory(team=world.other_team, role="marketer",
                                 user=UserFactory(username="stranger")).user
    for user, project, canary in ((world.marketer, sister, canary_project),
                                  (stranger, world.other_project, canary_team)):
        knowledge_document_create(user=user, project_id=project.pk, title=canary,
                                  text=f"Cold Brew Concentrate makes 12 cups. {canary}.")
        knowledge_facts_set(user=user, project_id=project.pk,
                            text=f"Cold Brew Concentrate summer cups {canary}")
    knowledge_facts_set(user=world.marketer, project_id=world.project.pk,
                        text="Cold Brew Concentrate: one bottle makes 12 cups")
    brief = BriefFactory(project=world.project, author=world.marketer, kind="ad_copy",
                         title="Summer cold brew", instructions="Say how many cups.",
                         extra={"product": "Cold Brew Concentrate", "channel": "Instagram",
                                "call_to_action": "Order"})
    job = GenerationJobFactory(brief=brief, status="queued")

    found = knowledge_for_brief(brief=job.brief)
    inputs = job_inputs(job_id=job.pk)
    from generation.testing import build_tiny_model

    # Room for the facts: the shared tiny model's 512 positions would trim them away.
    model = build_tiny_model(tmp_path / "model", max_positions=2048)
    engine = Engine.load(f"local:{model}", tmp_path / "cache")
    prompt = engine.build_prompt(to_request(inputs)).text
    assert "one bottle makes 12 cups" in prompt
    for canary in (canary_project, canary_team):
        assert all(canary not in p.text for p in (*found.passages, *found.left_out))
        assert canary not in str(inputs)
        assert canary not in prompt
