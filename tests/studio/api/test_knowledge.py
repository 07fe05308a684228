"""The knowledge API: the same services, limits and messages as the page."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from studio.models import KnowledgeDocument, KnowledgePassage
from tests.conftest import World
from tests.studio.api.conftest import Api
from tests.studio.test_knowledge import pdf_with_text, scanned_pdf

pytestmark = pytest.mark.django_db


def test_a_marketer_adds_reads_edits_and_deletes_a_document(api: Api, world: World) -> None:
    api.as_(world.marketer)
    url = reverse("api:project-knowledge", kwargs={"project_id": world.project.pk})
    created = api.post(url, {"title": "Price list", "kind": "markdown",
                             "text": "Tins cost $9.\n\nBags cost $12."})
    assert created.status_code == 201, created.content
    assert created.json()["passage_count"] == 2
    doc = reverse("api:knowledge-document", kwargs={"document_id": created.json()["id"]})
    assert [p["text"] for p in api.get(doc).json()["passages"]] == ["Tins cost $9.", "Bags cost $12."]
    assert api.patch(doc, {"text": "Tins cost $10."}).json()["passage_count"] == 1
    assert [d["title"] for d in api.get(url).json()] == ["Price list"]
    assert api.client.delete(doc).status_code == 204
    assert not KnowledgeDocument.objects.exists()


def test_it_uploads_a_pdf_and_refuses_a_scan_and_an_oversized_file(
    api: Api, world: World, settings: Any
) -> None:
    api.as_(world.admin)
    url = reverse("api:project-knowledge-upload", kwargs={"project_id": world.project.pk})
    ok = api.client.post(url, {"file": SimpleUploadedFile("sheet.pdf", pdf_with_text(["Tins cost $9."]))})
    assert ok.status_code == 201 and ok.json()["kind"] == "pdf"
    scan = api.client.post(url, {"file": SimpleUploadedFile("scan.pdf", scanned_pdf())})
    assert scan.status_code == 400 and "has no text layer" in scan.json()["file"][0]
    settings.KNOWLEDGE_UPLOAD_MAX_BYTES = 1024 * 1024
    big = api.client.post(url, {"file": SimpleUploadedFile("big.txt", b"a" * (5 * 1024 * 1024))})
    assert big.status_code == 413
    assert "files of at most 1 MB can be added" in big.json()["detail"]
    assert KnowledgeDocument.objects.count() == 1


def test_a_fact_list_over_the_limit_is_a_400_and_changes_nothing(api: Api, world: World) -> None:
    api.as_(world.marketer)
    url = reverse("api:project-knowledge-facts", kwargs={"project_id": world.project.pk})
    assert api.send("put", url, {"facts": ["Cups: 12", "Tins: $9"]}).json()["facts"] == [
        "Cups: 12", "Tins: $9"]
    refused = api.send("put", url, {"facts": [f"F{i}" for i in range(100_000)]})
    assert refused.status_code == 400
    assert "100,000 lines" in refused.json()["text"][0]
    assert list(KnowledgePassage.objects.values_list("text", flat=True)) == ["Cups: 12", "Tins: $9"]
