"""A project's knowledge: the page (htmx), uploads and their bad input, retrieval for a
brief's job, "Facts used" on the brief and review pages, and tenancy canaries."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from studio.models import AuditEvent, KnowledgeDocument, KnowledgePassage, KnowledgeUse
from studio.selectors.knowledge import knowledge_for_brief, knowledge_uses_of
from studio.services.generation import job_complete, job_inputs
from studio.services.jobs import job_claim_row
from studio.services.knowledge import knowledge_document_create, knowledge_facts_set
from tests.conftest import World
from tests.factories import (
    BriefFactory,
    GenerationJobFactory,
)

pytestmark = pytest.mark.django_db

XSS = '<script>alert(1)</script><img src=x onerror=alert(2)>'


def pdf_with_text(lines: list[str]) -> bytes:
    """A one-page PDF whose text layer holds ``lines`` (Helvetica, pypdf writes it)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                             NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})})
    stream = DecodedStreamObject()
    stream.set_data(("BT /F1 12 Tf 72 720 Td " + " ".join(f"({t}) Tj 0 -16 Td" for t in lines)
                     + " ET").encode())
    page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def scanned_pdf() -> bytes:
    """A PDF page with no text layer, as a scan without OCR."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _upload(client: Client, world: World, name: str, data: bytes, **extra: Any) -> Any:
    return client.post(reverse("knowledge_upload", kwargs={"project_id": world.project.pk}),
                       {"title": "", "file": SimpleUploadedFile(name, data)}, **extra)


def _state(world: World) -> tuple[int, int, int]:
    return (KnowledgeDocument.objects.filter(project=world.project).count(),
            KnowledgePassage.objects.filter(project=world.project).count(),
            AuditEvent.objects.filter(verb__startswith="knowledge").count())


# The page ---------------------------------------------------------------------------


def test_a_marketer_adds_edits_and_deletes_a_document_with_htmx(client: Client,
                                                                world: World) -> None:
    client.force_login(world.marketer)
    url = reverse("knowledge_add", kwargs={"project_id": world.project.pk})
    response = client.post(url, {"title": XSS, "kind": "markdown",
                                 "text": "# Cold brew\n\nOne bottle makes 12 cups. " + XSS},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="knowledge">')
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>alert" not in body
    document = KnowledgeDocument.objects.get(project=world.project)
    assert document.kind == "markdown" and document.added_by == world.marketer
    assert document.passages.count() == 2  # the heading's paragraph, then the text

    edit = reverse("knowledge_document", kwargs={"document_id": document.pk})
    page = client.get(edit).content.decode()
    assert "One bottle makes 12 cups." in page and "<img src=x" not in page
    client.post(edit, {"title": "Cold brew", "text": "One bottle makes 12 cups.\n\nKeep it cold."})
    assert [p.text for p in document.passages.order_by("ordinal")] == [
        "One bottle makes 12 cups.", "Keep it cold."]

    client.post(reverse("knowledge_delete", kwargs={"document_id": document.pk}),
                headers={"HX-Request": "true"})
    assert not KnowledgeDocument.objects.exists() and not KnowledgePassage.objects.exists()


def test_editors_read_the_knowledge_but_do_not_change_it(client: Client, world: World) -> None:
    knowledge_facts_set(user=world.admin, project_id=world.project.pk, text="Cups: 12")
    client.force_login(world.editor)
    page = client.get(reverse("project_knowledge", kwargs={"project_id": world.project.pk}))
    assert "Cups: 12" in page.content.decode() and 'id="facts-save"' not in page.content.decode()
    refused = client.post(reverse("knowledge_facts", kwargs={"project_id": world.project.pk}),
                          {"text": "Changed"})
    assert refused.status_code == 403
    assert KnowledgePassage.objects.get().text == "Cups: 12"


def test_it_uploads_text_markdown_and_pdf(client: Client, world: World) -> None:
    client.force_login(world.admin)
    _upload(client, world, "notes.txt", b"Cold brew makes 12 cups.\n")
    _upload(client, world, "产品.md", "# 产品\n\n一瓶可以冲调十二杯。".encode())
    _upload(client, world, "sheet.pdf", pdf_with_text(["Harbor Blend costs $11.50.",
                                                       "It is a medium roast."]))
    kinds = dict(KnowledgeDocument.objects.values_list("title", "kind"))
    assert kinds == {"notes": "text", "产品": "markdown", "sheet": "pdf"}
    pdf = KnowledgeDocument.objects.get(kind="pdf")
    assert "Harbor Blend costs $11.50." in pdf.text and pdf.filename == "sheet.pdf"


# Bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "data", "message"), [
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "contains NUL bytes"),
    ("latin1.txt", "Caf\xe9 cr\xe8me".encode("latin-1"), "is not UTF-8 text"),
    ("scan.pdf", scanned_pdf(), "has no text layer"),
    ("fake.pdf", b"this is no pdf", "is not a PDF file"),
    ("slides.pptx", b"PK\x03\x04", "upload .txt, .md or .pdf"),
])
def test_it_refuses_a_file_it_cannot_read_with_a_clear_message(
    client: Client, world: World, name: str, data: bytes, message: str
) -> None:
    client.force_login(world.marketer)
    before = _state(world)
    response = _upload(client, world, name, data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert _state(world) == before


def test_a_50_mb_upload_is_refused_by_its_size_before_it_is_read(
    client: Client, world: World, settings: Any
) -> None:
    settings.KNOWLEDGE_UPLOAD_MAX_BYTES = 1024 * 1024
    client.force_login(world.marketer)
    before = _state(world)

    boundary = "BoUnDaRy"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nBig\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            "filename=\"big.txt\"\r\nContent-Type: text/plain\r\n\r\n").encode()
    payload = head + b"a" * (50 * 1024 * 1024) + f"\r\n--{boundary}--\r\n".encode()
    url = reverse("knowledge_upload", kwargs={"project_id": world.project.pk})
    response = client.generic("POST", url, payload,
                              content_type=f"multipart/form-data; boundary={boundary}",
                              headers={"HX-Request": "true"})
    assert response.status_code == 413
    assert "files of at most 1 MB can be added" in response.content.decode()
    assert _state(world) == before


def test_the_upload_guard_stops_reading_at_the_limit(world: World, settings: Any) -> None:
    """Without a Content-Length to go by, the handler stops the stream at the limit."""
    from django.core.files.uploadhandler import StopUpload
    from django.test import RequestFactory

    from studio.uploads import KnowledgeUploadHandler

    settings.KNOWLEDGE_UPLOAD_MAX_BYTES = 1000
    request = RequestFactory().post("/")
    handler = KnowledgeUploadHandler(request)
    handler.handle_raw_input(None, {}, 0, b"b")
    handler.new_file("file", "big.txt", "text/plain", None)
    handler.receive_data_chunk(b"a" * 600, 0)
    with pytest.raises(StopUpload):
        handler.receive_data_chunk(b"a" * 600, 600)
    assert request.knowledge_upload_refused == 1200  # type: ignore[attr-defined]


def test_a_fact_list_of_100000_lines_is_refused_whole(client: Client, world: World) -> None:
    knowledge_facts_set(user=world.admin, project_id=world.project.pk, text="Cups: 12")
    before = _state(world)
    client.force_login(world.marketer)
    lines = "\n".join(f"Fact {i}" for i in range(100_000))
    response = client.post(reverse("knowledge_facts", kwargs={"project_id": world.project.pk}),
                           {"text": lines}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert "The fact list has 100,000 lines; a project may keep at most 2,000 facts" in body
    assert "Nothing was saved." in body
    assert _state(world) == before
    assert list(KnowledgePassage.objects.values_list("text", flat=True)) == ["Cups: 12"]


def test_the_project_passage_cap_refuses_a_document_whole(world: World, settings: Any) -> None:
    from django.core.exceptions import ValidationError

    settings.KNOWLEDGE_PROJECT_MAX_PASSAGES = 3
    settings.KNOWLEDGE_PASSAGE_CHARS = 20
    with pytest.raises(ValidationError, match="at most 3 are allowed"):
        knowledge_document_create(user=world.admin, project_id=world.project.pk, title="Long",
                                  text="A sentence here. " * 10)
    assert _state(world) == (0, 0, 0)


# Retrieval into jobs, "Facts used" --------------------------------------------------


def _brief(world: World, **fields: Any) -> Any:
    return BriefFactory(project=world.project, author=world.marketer, kind="ad_copy",
                        title="Summer cold brew", instructions="Say how many cups.",
                        extra={"product": "Cold Brew Concentrate", "channel": "Instagram",
                               "call_to_action": "Order"}, **fields)


def test_a_job_gets_the_passages_its_brief_needs_and_records_them(
    client: Client, world: World
) -> None:
    knowledge_facts_set(user=world.marketer, project_id=world.project.pk,
                        text="Cold Brew Concentrate: one bottle makes 12 cups\n"
                             "The café opens at 6:30\n" + XSS)
    job = GenerationJobFactory(brief=_brief(world), status="queued")
    inputs = job_inputs(job_id=job.pk)
    texts = [p["text"] for p in inputs["knowledge"]["passages"]]
    assert texts == ["Cold Brew Concentrate: one bottle makes 12 cups"]

    claim = job_claim_row(kind=__import__("studio.services.generation",
                                          fromlist=["GENERATION"]).GENERATION,
                          job_id=job.pk, worker="test")
    assert claim is not None
    assert job_complete(claim=claim, prompt="p", drafts=[], timings={},
                        knowledge=knowledge_uses_of(inputs["knowledge"], used=1))
    use = KnowledgeUse.objects.get(job=job)
    assert use.in_prompt and use.document_title == "Facts" and use.passage is not None

    client.force_login(world.marketer)
    page = client.get(reverse("brief_detail", kwargs={"brief_id": job.brief_id})).content.decode()
    assert "Facts used (1)" in page and "one bottle makes 12 cups" in page
    # The record stays when the fact list changes.
    knowledge_facts_set(user=world.marketer, project_id=world.project.pk, text="")
    use.refresh_from_db()
    assert use.passage is None and use.text.endswith("12 cups")


def test_the_review_page_shows_the_facts_used_and_what_was_left_out(
    client: Client, world: World
) -> None:
    from tests.factories import DraftFactory

    job = GenerationJobFactory(brief=_brief(world))
    draft = DraftFactory(job=job, variant=0)
    KnowledgeUse.objects.create(job=job, document_title="Price list", text="Tins: $9 " + XSS,
                                rank=0, score=2.0, in_prompt=True)
    KnowledgeUse.objects.create(job=job, document_title="Price list", text="Bags: $12",
                                rank=1, score=1.0, in_prompt=False)
    client.force_login(world.editor)
    page = client.get(reverse("draft_review", kwargs={"draft_id": draft.pk})).content.decode()
    assert "Facts used (2)" in page and "Tins: $9" in page
    assert "left out: did not fit the prompt" in page
    assert "<script>alert" not in page


def test_chinese_knowledge_is_retrieved_for_a_chinese_brief(world: World) -> None:
    knowledge_document_create(
        user=world.marketer, project_id=world.project.pk, title="产品介绍",
        text="港湾冷萃咖啡液采用一升玻璃瓶装，一瓶可以冲调十二杯。\n\n我们在云南普洱与咖啡农合作。")
    knowledge_facts_set(user=world.marketer, project_id=world.project.pk,
                        text="Delivery is free over $40")
    brief = BriefFactory(project=world.project, author=world.marketer, kind="social_post",
                         title="冷萃咖啡液上新", instructions="说明一瓶能冲几杯。",
                         extra={"platform": "小红书"})
    found = knowledge_for_brief(brief=brief)
    assert found.passages[0].text == "港湾冷萃咖啡液采用一升玻璃瓶装，一瓶可以冲调十二杯。"
    assert "Delivery is free over $40" not in [p.text for p in found.passages]
