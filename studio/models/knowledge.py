"""A project's knowledge: documents and facts, split into passages that briefs retrieve.

A document's passages are rewritten whole whenever its text changes (in one
transaction with it), so a passage never outlives the text it came from. The passages a
job's prompt was given are recorded as ``KnowledgeUse`` rows with their text as it was,
so "Facts used" stays true after a document is edited or deleted.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from .briefs import GenerationJob
from .projects import Project

TITLE_MAX = 200


class KnowledgeDocument(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", "Plain text"
        MARKDOWN = "markdown", "Markdown"
        PDF = "pdf", "PDF"
        # The project's fact list: one fact a line, each line a passage. One per project.
        FACTS = "facts", "Facts"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="knowledge")
    title = models.CharField(max_length=TITLE_MAX)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The text as extracted (a PDF's text layer, a file decoded as UTF-8) or as typed.
    text = models.TextField(blank=True)
    # Bytes of the uploaded file, or of the text in UTF-8 when it was typed.
    size = models.PositiveIntegerField(default=0)
    filename = models.CharField(max_length=255, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project"], condition=models.Q(kind="facts"),
                name="knowledge_one_fact_list_per_project",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["text", "markdown", "pdf", "facts"]),
                name="knowledge_kind_valid",
            ),
        ]
        ordering = ["title", "pk"]

    def __str__(self) -> str:
        return self.title


class KnowledgePassage(models.Model):
    document = models.ForeignKey(
        KnowledgeDocument, on_delete=models.CASCADE, related_name="passages"
    )
    # Denormalised from the document: retrieval reads one project's passages by index.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    ordinal = models.PositiveIntegerField()
    text = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document", "ordinal"],
                                    name="knowledge_passage_ordinal_unique"),
        ]
        indexes = [models.Index(fields=["project", "document", "ordinal"])]
        ordering = ["document_id", "ordinal"]

    def __str__(self) -> str:
        return f"passage {self.ordinal + 1} of {self.document_id}"


class KnowledgeUse(models.Model):
    """A passage retrieved for a job: whether the prompt held it, and its text then."""

    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE,
                            related_name="knowledge_uses")
    # Null once the passage is gone (its document edited or deleted); the text stays.
    passage = models.ForeignKey(KnowledgePassage, null=True, on_delete=models.SET_NULL,
                                related_name="+")
    document_title = models.CharField(max_length=TITLE_MAX)
    text = models.TextField()
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField()
    # False: retrieved but left out, over the character budget or the context window.
    in_prompt = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "rank"], name="knowledge_use_rank_unique"),
        ]
        ordering = ["job_id", "rank"]

    def __str__(self) -> str:
        return f"passage {self.passage_id} in job {self.job_id}"
