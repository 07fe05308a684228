"""A project's knowledge page: documents (typed or uploaded) and the fact list.

Every member sees it; admins and marketers change it. Each form posts with htmx and gets
the page's ``#knowledge`` fragment back (or the whole page without htmx); errors show
next to their field, with everything typed kept.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from studio.forms.knowledge import (
    KnowledgeEditForm,
    KnowledgeFactsForm,
    KnowledgeTextForm,
    KnowledgeUploadForm,
)
from studio.models import Project
from studio.permissions import (
    Need,
    knowledge_document_for_user,
    project_for_user,
    role_allows,
    role_in,
)
from studio.selectors.knowledge import project_documents, project_facts
from studio.services.knowledge import (
    knowledge_document_create,
    knowledge_document_delete,
    knowledge_document_update,
    knowledge_facts_set,
    knowledge_upload_too_large,
)
from studio.uploads import limit_knowledge_upload
from studio.views.errors import form_add_error


def _page(request: HttpRequest, project: Project, *, status: int = 200,
          **forms: Any) -> HttpResponse:
    facts = project_facts(project=project)
    context = {
        "project": project,
        "here": "Knowledge",
        "documents": project_documents(project=project),
        "facts": facts,
        "can_edit": role_allows(role_in(request.user, project.team_id), Need.KNOWLEDGE),
        "facts_form": forms.get("facts_form")
        or KnowledgeFactsForm(initial={"text": facts.text if facts else ""}),
        "text_form": forms.get("text_form") or KnowledgeTextForm(),
        "upload_form": forms.get("upload_form") or KnowledgeUploadForm(),
    }
    template = "studio/knowledge/page.html"
    if request.htmx:  # type: ignore[attr-defined]
        template += "#knowledge"
    return render(request, template, context, status=status)


def _done(request: HttpRequest, project: Project, message: str) -> HttpResponse:
    messages.success(request, message)
    if request.htmx:  # type: ignore[attr-defined]
        return _page(request, project)
    return redirect("project_knowledge", project_id=project.pk)


@login_required
@vary_on_headers("HX-Request")
def project_knowledge(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(request.user, project_id)
    return _page(request, project)


@login_required
@require_POST
def knowledge_add(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(request.user, project_id, need=Need.KNOWLEDGE)
    form = KnowledgeTextForm(request.POST)
    if form.is_valid():
        try:
            document = knowledge_document_create(user=request.user, project_id=project.pk,
                                                 **form.cleaned_data)
        except ValidationError as exc:
            form_add_error(form, exc)
        else:
            return _done(request, project, f"“{document.title}” added.")
    return _page(request, project, text_form=form)


@csrf_exempt  # the size guard must come before the body is parsed; CSRF is checked next
@login_required
@require_POST
def knowledge_upload(request: HttpRequest, project_id: int) -> HttpResponse:
    limit_knowledge_upload(request)
    return _knowledge_upload(request, project_id)


@csrf_protect
def _knowledge_upload(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(request.user, project_id, need=Need.KNOWLEDGE)
    form = KnowledgeUploadForm(request.POST, request.FILES)
    refused = getattr(request, "knowledge_upload_refused", None)
    if refused is not None:
        form.is_valid()
        form.errors.pop("file", None)
        form_add_error(form, knowledge_upload_too_large(refused) or ValidationError(""))
        return _page(request, project, upload_form=form, status=413)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        too_large = knowledge_upload_too_large(upload.size)
        try:
            if too_large is not None:
                raise too_large
            document = knowledge_document_create(
                user=request.user, project_id=project.pk, title=form.cleaned_data["title"],
                file_name=upload.name or "", file_data=upload.read(),
            )
        except ValidationError as exc:
            form_add_error(form, exc)
        else:
            return _done(request, project, f"“{document.title}” added "
                                           f"({document.get_kind_display()}).")
    return _page(request, project, upload_form=form)


@login_required
@require_POST
def knowledge_facts(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(request.user, project_id, need=Need.KNOWLEDGE)
    form = KnowledgeFactsForm(request.POST)
    if form.is_valid():
        try:
            facts = knowledge_facts_set(user=request.user, project_id=project.pk,
                                        text=form.cleaned_data["text"])
        except ValidationError as exc:
            form_add_error(form, exc)
        else:
            count = facts.passages.count() if facts else 0
            return _done(request, project, f"Fact list saved: {count} fact{'s' if count != 1 else ''}.")
    return _page(request, project, facts_form=form)


@login_required
def knowledge_document(request: HttpRequest, document_id: int) -> HttpResponse:
    """One document: its text and passages; admins and marketers edit it here."""
    document = knowledge_document_for_user(request.user, document_id)
    project = document.project
    can_edit = role_allows(role_in(request.user, project.team_id), Need.KNOWLEDGE)
    form = KnowledgeEditForm(request.POST or None,
                             initial={"title": document.title, "text": document.text})
    if request.method == "POST":
        if form.is_valid():
            try:
                document = knowledge_document_update(user=request.user,
                                                     document_id=document.pk,
                                                     **form.cleaned_data)
            except ValidationError as exc:
                form_add_error(form, exc)
            else:
                messages.success(request, f"“{document.title}” saved.")
                return redirect("knowledge_document", document_id=document.pk)
        else:
            # The role is checked by the service on a valid form; refuse an invalid one too.
            knowledge_document_for_user(request.user, document_id, need=Need.KNOWLEDGE)
    return render(request, "studio/knowledge/document.html", {
        "project": project, "document": document, "form": form, "can_edit": can_edit,
        "passages": document.passages.order_by("ordinal"),
    })


@login_required
@require_POST
def knowledge_delete(request: HttpRequest, document_id: int) -> HttpResponse:
    document = knowledge_document_for_user(request.user, document_id, need=Need.KNOWLEDGE)
    project = document.project
    knowledge_document_delete(user=request.user, document_id=document.pk)
    return _done(request, project, f"“{document.title}” deleted.")
