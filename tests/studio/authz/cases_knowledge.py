from __future__ import annotations

from typing import Any

from tests.conftest import World
from tests.studio.authz.case import ALL, Case

WRITERS = ("admin", "marketer")


def _document(w: World) -> dict[str, Any]:
    from studio.models import KnowledgeDocument

    document = KnowledgeDocument.objects.create(project=w.project, title="Sheet", kind="text",
                                                text="Cups: 12.")
    return {"document_id": document.pk}


def _project(w: World) -> dict[str, Any]:
    return {"project_id": w.project.pk}


CASES: list[Case] = [
    Case("project_knowledge", _project, ALL),
    Case("project_knowledge", _project, ALL, headers={"HX-Request": "true"}),
    Case("knowledge_add", _project, WRITERS, method="post",
         data=lambda w: {"title": "Sheet", "kind": "text", "text": "Cups: 12."}),
    Case("knowledge_upload", _project, WRITERS, method="post",
         data=lambda w: {"title": "Sheet"}),
    Case("knowledge_facts", _project, WRITERS, method="post", data=lambda w: {"text": "Cups: 12"}),
    Case("knowledge_document", _document, ALL),
    Case("knowledge_document", _document, WRITERS, method="post",
         data=lambda w: {"title": "Sheet", "text": "Cups: 13."}),
    Case("knowledge_delete", _document, WRITERS, method="post"),
    Case("api:project-knowledge", _project, ALL),
    Case("api:project-knowledge", _project, WRITERS, method="post",
         data=lambda w: {"title": "Sheet", "text": "Cups: 12."}),
    # The matrix sends JSON: a role let through meets the multipart-only parser (415).
    Case("api:project-knowledge-upload", _project, WRITERS, method="post",
         data=lambda w: {"title": "Sheet"}, ok=(415,)),
    Case("api:project-knowledge-facts", _project, ALL),
    Case("api:project-knowledge-facts", _project, WRITERS, method="put",
         data=lambda w: {"facts": ["Cups: 12"]}),
    Case("api:knowledge-document", _document, ALL),
    Case("api:knowledge-document", _document, WRITERS, method="patch",
         data=lambda w: {"text": "Cups: 13."}),
    Case("api:knowledge-document", _document, WRITERS, method="delete"),
]
