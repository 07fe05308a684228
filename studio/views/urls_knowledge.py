"""URLs of a project's knowledge (documents and facts)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from studio.views import knowledge

urlpatterns: list[URLPattern | URLResolver] = [
    path("projects/<int:project_id>/knowledge/", knowledge.project_knowledge,
         name="project_knowledge"),
    path("projects/<int:project_id>/knowledge/add/", knowledge.knowledge_add,
         name="knowledge_add"),
    path("projects/<int:project_id>/knowledge/upload/", knowledge.knowledge_upload,
         name="knowledge_upload"),
    path("projects/<int:project_id>/knowledge/facts/", knowledge.knowledge_facts,
         name="knowledge_facts"),
    path("knowledge/<int:document_id>/", knowledge.knowledge_document,
         name="knowledge_document"),
    path("knowledge/<int:document_id>/delete/", knowledge.knowledge_delete,
         name="knowledge_delete"),
]
