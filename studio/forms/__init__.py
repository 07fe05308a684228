from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from studio.models import Project, Role
from studio.models.projects import (
    BANNED_TERMS_MAX,
    BRAND_VOICE_MAX,
    RULES_MAX,
    SETTINGS_FIELDS,
)
from studio.models.teams import ROLE_RANK


def raise_for_form(form: forms.Form) -> None:
    """Validate ``form``; when it is invalid, raise its errors as one ValidationError
    (field → messages), the shape services raise and the API turns into a 400."""
    if not form.is_valid():
        raise ValidationError({
            field: [e["message"] for e in errors]
            for field, errors in form.errors.get_json_data().items()
        })


class ProjectSettingsForm(forms.ModelForm):
    # Declared for assume_scheme: "hooks.example.com/x" means https, not http.
    webhook_url = forms.URLField(required=False, max_length=500, assume_scheme="https",
                                 label="Webhook URL")

    class Meta:
        model = Project
        fields = list(SETTINGS_FIELDS)
        widgets = {
            "brand_voice": forms.Textarea(attrs={"rows": 4, "maxlength": BRAND_VOICE_MAX}),
            "style_must": forms.Textarea(attrs={"rows": 4, "maxlength": RULES_MAX}),
            "style_must_not": forms.Textarea(attrs={"rows": 4, "maxlength": RULES_MAX}),
            "banned_terms": forms.Textarea(attrs={"rows": 2, "maxlength": BANNED_TERMS_MAX}),
            "never_claims": forms.Textarea(attrs={"rows": 3, "maxlength": RULES_MAX}),
        }
        help_texts = {
            "brand_voice": "How the project sounds, in a few sentences. Every prompt carries it.",
            "style_must": "One rule a line, e.g. “Use short sentences.”",
            "style_must_not": "One rule a line; drafts that break one are flagged.",
            "banned_terms": "Comma- or line-separated (，and 、 too); drafts containing one "
            "are flagged, also when written with look-alike letters or in traditional "
            "characters.",
            "never_claims": "One a line, e.g. “clinically proven”; drafts that make one are "
            "flagged. Numbers, prices, dates and superlatives the brief and the project's "
            "knowledge do not state are flagged anyway.",
            "auto_retrain_threshold": "Start a retrain after this many new examples. "
            "Empty: never automatically.",
            "auto_promote": "Promote a new version automatically when it beats the live one.",
            "webhook_url": "Receives drafts.ready and training.finished events as signed "
            "JSON POSTs. Must be a public http(s) address. Empty: off.",
        }

    def __init__(self, *args: object, team: object = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # The service sets the team; the form must still validate name uniqueness in it.
        if team is not None:
            self.instance.team = team  # type: ignore[assignment]
        # A post without the language keeps the project's (older clients, scripts).
        self.fields["language"].required = False

    def clean_language(self) -> str:
        return str(self.cleaned_data.get("language") or self.instance.language)


# Least access first: an invitation starts at the smallest role, raised on purpose.
ROLES_LEAST_FIRST = sorted(Role.choices, key=lambda c: ROLE_RANK[Role(c[0])])


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=ROLES_LEAST_FIRST, initial=Role.MARKETER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
