from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from studio.models import Role
from tests.factories import (
    BriefFactory,
    DraftFactory,
    GenerationJobFactory,
    MembershipFactory,
    ModelVersionFactory,
    ProjectFactory,
    TeamFactory,
    TrainingJobFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def _test_settings(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    # PBKDF2 costs ~0.3 s a user on this CPU; tests don't need a slow hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # django-axes refuses client.login() (no request to count failures by); the lockout
    # tests (tests/studio/test_login_lockout.py) switch it back on.
    settings.AXES_ENABLED = False
    # Snapshots and adapters written by tests stay out of the checkout's var/.
    files = tmp_path_factory.getbasetemp() / "studio-files"
    settings.DATASET_DIR = files / "datasets"
    settings.ADAPTER_DIR = files / "adapters"


@dataclass
class World:
    """Two teams. Team A has an admin, an editor and a marketer; the outsider is B's admin."""

    team: Any
    other_team: Any
    admin: Any
    editor: Any
    marketer: Any
    outsider: Any
    project: Any
    other_project: Any
    brief: Any
    job: Any
    draft: Any
    version: Any
    training_job: Any
    memberships: dict[str, Any]

    def user(self, role: str) -> Any:
        return {"admin": self.admin, "editor": self.editor, "marketer": self.marketer,
                "outsider": self.outsider}[role]


@pytest.fixture
def world(db: Any) -> World:
    team = TeamFactory(name="Alpha")
    other_team = TeamFactory(name="Beta")
    memberships = {
        role: MembershipFactory(team=team, role=role, user=UserFactory(username=f"{role}-a"))
        for role in (Role.ADMIN, Role.EDITOR, Role.MARKETER)
    }
    outsider = MembershipFactory(
        team=other_team, role=Role.ADMIN, user=UserFactory(username="outsider")
    ).user
    project = ProjectFactory(team=team, name="Alpha blog")
    other_project = ProjectFactory(team=other_team, name="Beta blog")
    brief = BriefFactory(project=project, author=memberships[Role.MARKETER].user)
    job = GenerationJobFactory(brief=brief)
    draft = DraftFactory(job=job, variant=0)
    version = ModelVersionFactory(project=project)
    training_job = TrainingJobFactory(project=project)
    return World(
        team=team,
        other_team=other_team,
        admin=memberships[Role.ADMIN].user,
        editor=memberships[Role.EDITOR].user,
        marketer=memberships[Role.MARKETER].user,
        outsider=outsider,
        project=project,
        other_project=other_project,
        brief=brief,
        job=job,
        draft=draft,
        version=version,
        training_job=training_job,
        memberships=memberships,
    )
