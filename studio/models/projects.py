from __future__ import annotations

import re

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models

from generation.languages import DEFAULT_LANGUAGE, Language, get_language, language_choices
from studio.models.fields import UserCharField, UserTextField

from .teams import Team

# Banned terms are separated by commas (also the Chinese "，" and "、") or lines.
_TERM_SEPARATORS = re.compile(r"[,，、\n]")

BRAND_VOICE_MAX = 4000
RULES_MAX = 4000
BANNED_TERMS_MAX = 2000

# What an admin may change on a project's settings page and API: one list for both.
SETTINGS_FIELDS = (
    "name",
    "language",
    "brand_voice",
    "style_must",
    "style_must_not",
    "banned_terms",
    "never_claims",
    "auto_retrain_threshold",
    "auto_promote",
    "webhook_url",
    "auto_assign",
)


class Project(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="projects")
    name = UserCharField(max_length=120)
    # What drafts are written in: prompts, length units and checks follow it
    # (generation.languages; choices read from its registry).
    language = models.CharField(
        "content language", max_length=16, choices=language_choices, default=DEFAULT_LANGUAGE,
        help_text="Prompts, target lengths (words, or characters for Chinese) and checks "
        "follow it; a draft mostly in another language is flagged.",
    )
    brand_voice = UserTextField(
        blank=True, max_length=BRAND_VOICE_MAX, validators=[MaxLengthValidator(BRAND_VOICE_MAX)]
    )
    # One rule a line; kept as text so admins edit them as they think of them.
    style_must = UserTextField(
        "style rules: must", blank=True, max_length=RULES_MAX,
        validators=[MaxLengthValidator(RULES_MAX)],
    )
    style_must_not = UserTextField(
        "style rules: must not", blank=True, max_length=RULES_MAX,
        validators=[MaxLengthValidator(RULES_MAX)],
    )
    banned_terms = UserTextField(
        blank=True, max_length=BANNED_TERMS_MAX, validators=[MaxLengthValidator(BANNED_TERMS_MAX)]
    )
    # Claims the brand must never make, one a line ("clinically proven", "cures"): data,
    # not code; a draft that makes one is flagged.
    never_claims = UserTextField(
        "claims never to make", blank=True, max_length=RULES_MAX,
        validators=[MaxLengthValidator(RULES_MAX)],
    )
    base_model = models.CharField(max_length=300, blank=True, help_text="Empty: the default")
    live_model = models.ForeignKey(
        "studio.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty: the base model without an adapter",
    )
    auto_retrain_threshold = models.PositiveIntegerField(
        null=True, blank=True, help_text="New examples that start a retrain; empty: off"
    )
    auto_promote = models.BooleanField(default=False)
    # Round-robin: each new job's drafts go to the next editor of the team.
    auto_assign = models.BooleanField(
        "assign new drafts round-robin", default=False,
        help_text="Each brief's new drafts go to the team's editors in turn.",
    )
    # The user the round-robin gave the last job to (it carries on after them).
    assign_cursor = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    # Events (drafts.ready, training.finished) are POSTed here, signed with the secret.
    webhook_url = models.URLField(
        blank=True, max_length=500,
        help_text="Empty: no webhooks. Must be a public http(s) address.",
    )
    # Generated when a URL is first set (secrets.token_urlsafe(32)); never typed in.
    webhook_secret = models.CharField(max_length=100, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="project_name_unique_in_team")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_base_model(self) -> str:
        """The base model the project's new jobs run on: its own, else the studio's default."""
        return self.base_model or settings.DEFAULT_BASE_MODEL

    @property
    def content_language(self) -> Language:
        """The project's content language (unit, prompt text, checks)."""
        return get_language(self.language)

    @staticmethod
    def _lines(text: str) -> list[str]:
        return [line.strip() for line in text.splitlines() if line.strip()]

    @property
    def must_rules(self) -> list[str]:
        return self._lines(self.style_must)

    @property
    def must_not_rules(self) -> list[str]:
        return self._lines(self.style_must_not)

    @property
    def never_claim_list(self) -> list[str]:
        return self._lines(self.never_claims)

    @property
    def banned_term_list(self) -> list[str]:
        return [t.strip() for t in _TERM_SEPARATORS.split(self.banned_terms) if t.strip()]
