"""Forms of the knowledge page: they only parse; studio.services.knowledge validates."""

from __future__ import annotations

from typing import Any

from django import forms

from studio.models.knowledge import TITLE_MAX


class _IdsForm(forms.Form):
    """Three forms share the knowledge page: each gets its own element ids."""

    id_prefix = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class KnowledgeTextForm(_IdsForm):
    id_prefix = "doc"
    title = forms.CharField(max_length=TITLE_MAX)
    kind = forms.ChoiceField(choices=[("text", "Plain text"), ("markdown", "Markdown")],
                             initial="text")
    # The service checks the length against KNOWLEDGE_DOCUMENT_MAX_CHARS with a message.
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), strip=False)


class KnowledgeEditForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX)
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 16}), strip=False)


class KnowledgeUploadForm(_IdsForm):
    id_prefix = "upload"
    title = forms.CharField(max_length=TITLE_MAX, required=False,
                            help_text="Empty: the file's name.")
    file = forms.FileField(help_text=".txt or .md (UTF-8), or a .pdf with a text layer.",
                           widget=forms.ClearableFileInput(
                               attrs={"accept": ".txt,.md,.markdown,.pdf"}))


class KnowledgeFactsForm(_IdsForm):
    id_prefix = "facts"
    text = forms.CharField(
        label="Facts", required=False, strip=False,
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text="One fact a line: products, prices, dates, claims the brand may make.",
    )
