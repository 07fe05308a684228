"""Writes to a project's knowledge: documents (typed or uploaded), the fact list, and the
record of which passages a job's prompt was given.

Admins and marketers (``Need.KNOWLEDGE``) write; a document and its passages are
saved, replaced or deleted in one transaction, so a refused or failed write leaves the
project's knowledge exactly as it was (nothing half-indexed). Bad input is Django's
``ValidationError`` with the field it is about: ``title``, ``text`` or ``file``.
"""

from __future__ import annotations

import io
import logging
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from generation.knowledge import fact_lines, split_passages
from studio.models import KnowledgeDocument, KnowledgePassage, KnowledgeUse, Project
from studio.models.knowledge import TITLE_MAX
from studio.permissions import Need, knowledge_document_for_user, project_for_user
from studio.services.audit import audit_record

logger = logging.getLogger(__name__)

Kind = KnowledgeDocument.Kind
DOCUMENT_KINDS = (Kind.TEXT, Kind.MARKDOWN, Kind.PDF)
KIND_FOR_SUFFIX = {".txt": Kind.TEXT, ".text": Kind.TEXT, ".md": Kind.MARKDOWN,
                   ".markdown": Kind.MARKDOWN, ".pdf": Kind.PDF}
FACTS_TITLE = "Facts"


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n:,} bytes"


def knowledge_upload_too_large(size: int | None) -> ValidationError | None:
    """The refusal for an upload of ``size`` bytes, or None when it may be read. Pages and
    the API call it with the request's Content-Length before touching the body."""
    limit = settings.KNOWLEDGE_UPLOAD_MAX_BYTES
    if size is not None and size > limit:
        return ValidationError({"file": (
            f"The file is {_mb(size)}; files of at most {_mb(limit)} can be added. "
            "Split it, or paste the part the briefs need.")})
    return None


def knowledge_text_from_file(*, name: str, data: bytes) -> tuple[str, str]:
    """The kind and the text of an uploaded file: ``.txt`` and ``.md`` must be UTF-8
    text, a ``.pdf`` must have a text layer. Raises ValidationError on ``file``."""
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    kind = KIND_FOR_SUFFIX.get(suffix)
    if kind is None:
        raise ValidationError({"file": (
            f"“{name[:100]}” is not a file the studio can read: upload .txt, .md or .pdf.")})
    too_large = knowledge_upload_too_large(len(data))
    if too_large is not None:
        raise too_large
    if kind == Kind.PDF:
        return kind, _pdf_text(name, data)
    if b"\x00" in data:
        raise ValidationError({"file": (
            f"“{name[:100]}” contains NUL bytes: it is a binary file, not text. "
            "Upload plain text (UTF-8), Markdown or a PDF.")})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError({"file": (
            f"“{name[:100]}” is not UTF-8 text (byte {exc.start:,} is not valid UTF-8). "
            "Save it as UTF-8 and upload it again.")}) from exc
    return kind, text


def _pdf_text(name: str, data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not data.lstrip()[:5] == b"%PDF-":
        raise ValidationError({"file": f"“{name[:100]}” is not a PDF file."})
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ValidationError({"file": (
                f"“{name[:100]}” is password-protected: remove the password and upload "
                "it again.")})
        pages = [page.extract_text() or "" for page in reader.pages]
    except ValidationError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        logger.info("unreadable PDF %r: %s: %s", name[:100], type(exc).__name__, exc)
        raise ValidationError({"file": (
            f"“{name[:100]}” could not be read as a PDF ({type(exc).__name__}).")}) from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip()).replace("\x00", "")
    if not text.strip():
        raise ValidationError({"file": (
            f"“{name[:100]}” has no text layer (a scanned document?): the studio cannot "
            "read its words. Run it through OCR first, or paste its text as a document.")})
    return text


def _clean_title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise ValidationError({"title": "Give the document a title."})
    if len(title) > TITLE_MAX:
        raise ValidationError({"title": f"At most {TITLE_MAX} characters."})
    return title


def _document_passages(text: str) -> list[str]:
    text = text.replace("\x00", "")
    if not text.strip():
        raise ValidationError({"text": "The document has no text."})
    limit = settings.KNOWLEDGE_DOCUMENT_MAX_CHARS
    if len(text) > limit:
        raise ValidationError({"text": (
            f"The text has {len(text):,} characters; a document may hold at most {limit:,}. "
            "Split it into several documents. Nothing was saved.")})
    return split_passages(text, max_chars=settings.KNOWLEDGE_PASSAGE_CHARS)


def _lock_project_with_room(project: Project, *, adding: int, replacing: int = 0) -> None:
    """Lock the project row (so two writers cannot both squeeze under the cap) and refuse
    when its passages would exceed KNOWLEDGE_PROJECT_MAX_PASSAGES."""
    Project.objects.select_for_update().filter(pk=project.pk).first()
    limit = settings.KNOWLEDGE_PROJECT_MAX_PASSAGES
    total = KnowledgePassage.objects.filter(project=project).count() - replacing + adding
    if total > limit:
        raise ValidationError({"text": (
            f"The project would hold {total:,} passages; at most {limit:,} are allowed. "
            "Delete documents it no longer needs, or add less. Nothing was saved.")})


def _write_passages(document: KnowledgeDocument, passages: list[str]) -> None:
    KnowledgePassage.objects.filter(document=document).delete()
    KnowledgePassage.objects.bulk_create(
        [KnowledgePassage(document=document, project_id=document.project_id, ordinal=i, text=t)
         for i, t in enumerate(passages)],
        batch_size=1000,
    )


def _summary(document: KnowledgeDocument, passages: int) -> dict[str, Any]:
    return {"title": document.title, "kind": document.kind, "size": document.size,
            "passages": passages}


def knowledge_document_create(
    *, user: Any, project_id: int, title: str, text: str = "", kind: str = Kind.TEXT,
    file_name: str = "", file_data: bytes | None = None,
) -> KnowledgeDocument:
    """Add a document to a project, from typed ``text`` (``kind`` text or markdown) or an
    uploaded file (``file_name`` and ``file_data``: its kind comes from the suffix)."""
    project = project_for_user(user, project_id, need=Need.KNOWLEDGE)
    if file_data is not None:
        kind, text = knowledge_text_from_file(name=file_name, data=file_data)
        size = len(file_data)
        title = title.strip() or PurePosixPath(file_name.replace("\\", "/")).stem
    else:
        if kind not in (Kind.TEXT, Kind.MARKDOWN):
            raise ValidationError({"kind": "Typed documents are text or markdown; upload a "
                                           "PDF as a file."})
        size = len(text.encode("utf-8", "surrogatepass"))
    title = _clean_title(title)
    passages = _document_passages(text)
    with transaction.atomic():
        _lock_project_with_room(project, adding=len(passages))
        document = KnowledgeDocument.objects.create(
            project=project, title=title, kind=kind, text=text.replace("\x00", ""), size=size,
            filename=PurePosixPath(file_name.replace("\\", "/")).name[:255], added_by=user,
        )
        _write_passages(document, passages)
        audit_record(actor=user, team=project.team, verb="knowledge.add", obj=document,
                     after=_summary(document, len(passages)))
    return document


def knowledge_document_update(
    *, user: Any, document_id: int, title: str | None = None, text: str | None = None
) -> KnowledgeDocument:
    """Change a document's title or text; new text is split into passages again."""
    document = knowledge_document_for_user(user, document_id, need=Need.KNOWLEDGE)
    if document.kind == Kind.FACTS:
        raise ValidationError({"text": "Edit the fact list on the project's knowledge page."})
    before_count = document.passages.count()
    before = _summary(document, before_count)
    if title is not None:
        document.title = _clean_title(title)
    passages = _document_passages(text) if text is not None else None
    with transaction.atomic():
        if passages is not None:
            _lock_project_with_room(document.project, adding=len(passages),
                                    replacing=before_count)
            document.text = text.replace("\x00", "") if text is not None else ""
            document.size = len(document.text.encode("utf-8", "surrogatepass"))
            _write_passages(document, passages)
        document.save()
        audit_record(actor=user, team=document.project.team, verb="knowledge.edit",
                     obj=document, before=before,
                     after=_summary(document, len(passages) if passages is not None
                                    else before_count))
    return document


def knowledge_document_delete(*, user: Any, document_id: int) -> None:
    """Delete a document and its passages (jobs keep the text they were given)."""
    document = knowledge_document_for_user(user, document_id, need=Need.KNOWLEDGE)
    with transaction.atomic():
        audit_record(actor=user, team=document.project.team, verb="knowledge.delete",
                     obj=document, before=_summary(document, document.passages.count()))
        document.delete()


def knowledge_facts_set(*, user: Any, project_id: int, text: str) -> KnowledgeDocument | None:
    """Replace the project's fact list: one fact a line, each line a passage. An empty
    list deletes it. Over KNOWLEDGE_MAX_FACTS lines, or a line longer than a passage,
    is refused whole."""
    project = project_for_user(user, project_id, need=Need.KNOWLEDGE)
    text = text.replace("\x00", "")
    facts = fact_lines(text)
    limit = settings.KNOWLEDGE_MAX_FACTS
    if len(facts) > limit:
        raise ValidationError({"text": (
            f"The fact list has {len(facts):,} lines; a project may keep at most {limit:,} "
            "facts. Keep the facts briefs need (one short line each) and put longer "
            "material in a document. Nothing was saved.")})
    longest = settings.KNOWLEDGE_PASSAGE_CHARS
    for number, fact in enumerate(facts, start=1):
        if len(fact) > longest:
            raise ValidationError({"text": (
                f"Fact {number} has {len(fact):,} characters; a fact may have at most "
                f"{longest:,}. Put longer material in a document. Nothing was saved.")})
    with transaction.atomic():
        document = (KnowledgeDocument.objects.select_for_update()
                    .filter(project=project, kind=Kind.FACTS).first())
        if not facts:
            if document is not None:
                audit_record(actor=user, team=project.team, verb="knowledge.facts",
                             obj=document, before=_summary(document, document.passages.count()))
                document.delete()
            return None
        replacing = document.passages.count() if document is not None else 0
        _lock_project_with_room(project, adding=len(facts), replacing=replacing)
        if document is None:
            document = KnowledgeDocument(project=project, kind=Kind.FACTS, title=FACTS_TITLE,
                                         added_by=user)
        document.text = "\n".join(facts)
        document.size = len(document.text.encode("utf-8", "surrogatepass"))
        document.save()
        _write_passages(document, facts)
        audit_record(actor=user, team=project.team, verb="knowledge.facts", obj=document,
                     after=_summary(document, len(facts)))
    return document


def knowledge_uses_record(*, job_id: int, uses: list[dict[str, Any]]) -> None:
    """Record the passages retrieved for a job (called in the transaction that saves its
    drafts): ``uses`` as ``studio.selectors.knowledge.knowledge_uses_of`` makes them. A
    passage deleted since keeps its text here, without the link."""
    if not uses:
        return
    alive = set(KnowledgePassage.objects.filter(
        pk__in=[u["passage"] for u in uses]).values_list("pk", flat=True))
    KnowledgeUse.objects.bulk_create(
        [KnowledgeUse(job_id=job_id, passage_id=u["passage"] if u["passage"] in alive else None,
                      document_title=u["title"][:TITLE_MAX], text=u["text"], rank=rank,
                      score=u["score"], in_prompt=u["in_prompt"])
         for rank, u in enumerate(uses)],
        ignore_conflicts=True,
    )
