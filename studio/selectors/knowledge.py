"""Reads of a project's knowledge: its documents, and the passages a brief retrieves.

Retrieval reads the passages of the brief's own project only (and only passages whose
document belongs to that project), so another project's or team's knowledge never
reaches a prompt.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet

from generation.knowledge import Passage, Retrieval, retrieve
from studio.models import (
    Brief,
    GenerationJob,
    KnowledgeDocument,
    KnowledgePassage,
    KnowledgeUse,
    Project,
)


def project_documents(*, project: Project) -> QuerySet[KnowledgeDocument]:
    """The project's documents (the fact list excluded) with their passage counts."""
    return (
        KnowledgeDocument.objects.filter(project=project)
        .exclude(kind=KnowledgeDocument.Kind.FACTS)
        .select_related("added_by")
        .annotate(passage_count=Count("passages"))
        .order_by("title", "pk")
    )


def project_facts(*, project: Project) -> KnowledgeDocument | None:
    return KnowledgeDocument.objects.filter(project=project,
                                            kind=KnowledgeDocument.Kind.FACTS).first()


def brief_query(brief: Brief) -> str:
    """What a brief searches the knowledge with: its title, instructions, keywords and
    kind-specific fields (product, channel…)."""
    parts = [brief.title, brief.instructions, *(str(k) for k in brief.keywords or [])]
    parts += [str(v) for v in (brief.extra or {}).values() if isinstance(v, str | int)]
    return "\n".join(p for p in parts if p)


def knowledge_for_brief(*, brief: Brief) -> Retrieval:
    """The passages of the brief's project that fit its prompt, best first
    (KNOWLEDGE_TOP_K of them at most, KNOWLEDGE_PROMPT_CHARS characters in all)."""
    rows = (
        KnowledgePassage.objects.filter(project_id=brief.project_id,
                                        document__project_id=brief.project_id)
        .order_by("document_id", "ordinal")
        .values_list("pk", "text")
    )
    passages = [Passage(key=pk, text=text) for pk, text in rows]
    if not passages:
        return Retrieval(passages=())
    return retrieve(brief_query(brief), passages, k=settings.KNOWLEDGE_TOP_K,
                    char_budget=settings.KNOWLEDGE_PROMPT_CHARS)


def knowledge_inputs(*, brief: Brief) -> dict[str, list[dict[str, Any]]]:
    """A brief's retrieval as plain data for the worker: the passages for the prompt
    (best first) and the top-k ones left out over the character budget."""
    found = knowledge_for_brief(brief=brief)
    keys = [p.key for p in (*found.passages, *found.left_out)]
    titles = dict(KnowledgePassage.objects.filter(pk__in=keys)
                  .values_list("pk", "document__title"))

    def row(p: Any) -> dict[str, Any]:
        return {"id": p.key, "title": titles.get(p.key, ""), "text": p.text, "score": p.score}

    return {"passages": [row(p) for p in found.passages],
            "left_out": [row(p) for p in found.left_out]}


def knowledge_uses_of(knowledge: dict[str, list[dict[str, Any]]], used: int
                      ) -> list[dict[str, Any]]:
    """What a job records (``KnowledgeUse``): its retrieved passages in rank order, the
    first ``used`` of them in the prompt, the rest left out (context window, budget)."""
    passages = knowledge.get("passages", [])
    return [
        {"passage": p["id"], "title": p["title"], "text": p["text"], "score": p["score"],
         "in_prompt": i < used}
        for i, p in enumerate([*passages, *knowledge.get("left_out", [])])
    ]


def job_knowledge(*, job: GenerationJob | None) -> list[KnowledgeUse]:
    """The passages a job was given ("Facts used"), in rank order."""
    if job is None:
        return []
    return list(KnowledgeUse.objects.filter(job=job).order_by("rank"))
