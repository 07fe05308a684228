"""Test data. Passwords are random per run; tests log in with force_login."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from studio.models import (
    Brief,
    Draft,
    GenerationJob,
    Membership,
    ModelVersion,
    Project,
    Role,
    Team,
    TrainingJob,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("s3cret-Pass-123")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    team = factory.SubFactory(TeamFactory)
    role = Role.EDITOR


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Project {n}")
    brand_voice = "Warm and plain."
    style_must = "Use short sentences."
    style_must_not = "Use exclamation marks."
    banned_terms = "cheap, guaranteed"


class BriefFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brief

    project = factory.SubFactory(ProjectFactory)
    author = factory.SubFactory(UserFactory)
    kind = "article"
    title = factory.Sequence(lambda n: f"Brief {n}")
    instructions = "Write about our new roast."
    variants = 2
    status = Brief.Status.IN_REVIEW


class GenerationJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GenerationJob

    brief = factory.SubFactory(BriefFactory)
    base_model = "bundled:smollm2-135m-instruct"
    requested_by = factory.SelfAttribute("brief.author")
    variants = factory.SelfAttribute("brief.variants")
    seed = 1234
    status = GenerationJob.Status.SUCCEEDED


class DraftFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Draft

    job = factory.SubFactory(GenerationJobFactory)
    project = factory.SelfAttribute("job.brief.project")
    variant = factory.Sequence(lambda n: n % 8)
    text = "A warm, plain draft about coffee."
    current_text = factory.SelfAttribute("text")
    prompt = "<|im_start|>user\nWrite about coffee<|im_end|>"
    seed = 1234


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVersion

    project = factory.SubFactory(ProjectFactory)
    number = factory.Sequence(lambda n: n + 1)
    base_model = "bundled:smollm2-135m-instruct"
    status = ModelVersion.Status.READY
    # As a training job registers a version whose load check passed; tests of the check
    # itself set it.
    load_check = ModelVersion.LoadCheck.OK


class TrainingJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrainingJob

    project = factory.SubFactory(ProjectFactory)
    status = TrainingJob.Status.SUCCEEDED
