"""Training data, retraining jobs and model versions (admins): thin views over
studio.services.training (writes) and studio.selectors.training (reads)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from studio.models import ModelVersion, PreferenceNote, Project, TrainingExample, TrainingJob
from studio.permissions import Need, project_for_user, training_job_for_user, version_for_user
from studio.selectors import editcost as editcost_sel
from studio.selectors import notes as notes_sel
from studio.selectors import training as sel
from studio.services import notes as notes_svc
from studio.services import training as svc
from studio.services.errors import StudioError
from studio.services.training import imports as imports_svc
from studio.views.errors import error_text

EXAMPLES_PER_PAGE = 50


@login_required
def training_home(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(request.user, project_id, need=Need.ADMIN)
    jobs = list(sel.training_jobs_for(request.user, project=project)[:20])
    active = next((j for j in jobs if j.status in TrainingJob.ACTIVE), None)
    return render(request, "studio/training/home.html", {
        "project": project,
        "here": "Training",
        "counts": sel.training_example_counts(request.user, project=project),
        "readiness": svc.training_readiness(project=project),
        "jobs": jobs,
        "active": active,
        "methods": TrainingJob.Method.choices,
        "export_formats": sel.EXPORT_FORMATS,
    })


@login_required
@require_POST
def training_start(request: HttpRequest, project_id: int) -> HttpResponse:
    try:
        job = svc.training_job_start(user=request.user, project_id=project_id,
                                     method=request.POST.get("method", TrainingJob.Method.SFT))
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return redirect("training_home", project_id=project_id)
    messages.success(request, f"Training job #{job.pk} queued.")
    return redirect("training_job", job_id=job.pk)


@login_required
@vary_on_headers("HX-Request")
def training_examples(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(request.user, project_id, need=Need.ADMIN)
    filters = sel.ExampleFilters.from_query(request.GET)
    page = Paginator(sel.training_examples_for(request.user, project=project, filters=filters)
                     .select_related("source_review__draft__job__brief"),
                     EXAMPLES_PER_PAGE).get_page(request.GET.get("page"))
    context = {"project": project, "here": "Training data", "page": page, "filters": filters,
               "kinds": TrainingExample.Kind.choices, "query": filters.items()}
    template = "studio/training/examples.html"
    if request.htmx:  # type: ignore[attr-defined]
        template += "#results"
    return render(request, template, context)


@login_required
@require_POST
def training_example_exclude(request: HttpRequest, example_id: int) -> HttpResponse:
    excluded = request.POST.get("excluded", "1") == "1"
    example = svc.example_set_excluded(user=request.user, example_id=example_id,
                                       excluded=excluded)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "studio/training/examples.html#row", {"ex": example})
    return redirect("training_examples", project_id=example.project_id)


@login_required
def training_export(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(request.user, project_id, need=Need.ADMIN)
    fmt = request.GET.get("format", "sft")
    if fmt not in sel.EXPORT_FORMATS:
        return HttpResponse("format must be one of " + ", ".join(sel.EXPORT_FORMATS),
                            status=400, content_type="text/plain")
    export = sel.training_export(request.user, project=project, fmt=fmt)
    return HttpResponse(export.body, content_type=export.content_type, headers=export.headers)


@login_required
@require_POST
def training_import(request: HttpRequest, project_id: int) -> HttpResponse:
    """Import a studio export of another project of the team (file field ``file``)."""
    project = project_for_user(request.user, project_id, need=Need.ADMIN)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise ValidationError({"file": "Choose a studio export file to import."})
        # At most one byte over the limit is read: the service refuses a larger file.
        data = upload.read(imports_svc.IMPORT_MAX_BYTES + 1)
        result = imports_svc.training_examples_import(user=request.user, project_id=project.pk,
                                                      data=data)
    except (ValidationError, StudioError) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"Imported {result.created} example"
                         f"{'s' if result.created != 1 else ''} ({result.existing} already "
                         f"here); snapshot {result.snapshot.content_hash[:12]} rebuilt with "
                         "the export's content hash.")
    return redirect("training_examples", project_id=project_id)


def _job_context(job: TrainingJob) -> dict[str, object]:
    return {"job": job, "project": job.project, "elapsed": sel.training_job_elapsed(job),
            "active": job.status in TrainingJob.ACTIVE, "here": f"Training job #{job.pk}"}


@login_required
@vary_on_headers("HX-Request")
def training_job(request: HttpRequest, job_id: int) -> HttpResponse:
    job = training_job_for_user(request.user, job_id, need=Need.ADMIN)
    template = "studio/training/job.html"
    if request.htmx:  # type: ignore[attr-defined]
        # The poll's answer; once the job has ended it carries no trigger, so polling stops.
        template += "#progress"
    job = TrainingJob.objects.select_related("project", "version", "snapshot").get(pk=job.pk)
    return render(request, template, _job_context(job))


@login_required
def training_job_chart(request: HttpRequest, job_id: int) -> JsonResponse:
    job = training_job_for_user(request.user, job_id, need=Need.ADMIN)
    return JsonResponse(sel.training_job_chart(job))


@login_required
@require_POST
def training_job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    try:
        job = svc.training_job_cancel(user=request.user, job_id=job_id)
    except StudioError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, "Cancelled." if job.status == "cancelled"
                         else "Cancel requested; the job stops at its next step.")
    return redirect("training_job", job_id=job_id)


@login_required
def model_versions(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(request.user, project_id, need=Need.ADMIN)
    versions = list(sel.model_versions_for(request.user, project=project))
    live = project.live_model
    edit_cost = editcost_sel.edit_cost_summary(request.user, project=project)
    return render(request, "studio/training/models.html", {
        "project": project, "here": "Models",
        "versions": versions,
        "edit_cost": edit_cost,
        "edit_cost_chart": editcost_sel.edit_cost_chart(edit_cost),
        "checking": any(v.load_check == ModelVersion.LoadCheck.PENDING for v in versions),
        "live_broken": live is not None and live.load_check == ModelVersion.LoadCheck.FAILED,
        "rollback_target": sel.model_rollback_target(request.user, project=project),
    })


@login_required
@require_POST
def model_check(request: HttpRequest, version_id: int) -> HttpResponse:
    """Ask a generation worker to load the version and write a few tokens; the models
    page shows the outcome (it polls while a check runs)."""
    version = version_for_user(request.user, version_id, need=Need.ADMIN)
    try:
        svc.model_version_check_request(user=request.user, version_id=version.pk)
    except StudioError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"Checking v{version.number}: a generation worker loads it "
                         "and writes a few tokens with it. The result shows below.")
    return redirect(reverse("model_versions", kwargs={"project_id": version.project_id}))


def _switch(request: HttpRequest, version_id: int, *, rollback: bool) -> HttpResponse:
    version = version_for_user(request.user, version_id, need=Need.ADMIN)
    try:
        if rollback:
            svc.model_rollback(user=request.user, version_id=version.pk)
        else:
            # The reason is needed only to promote over a gate that did not pass.
            svc.model_promote(user=request.user, version_id=version.pk,
                              reason=request.POST.get("reason", ""))
    except StudioError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"v{version.number} is now live"
                         + (" (rolled back)." if rollback else "."))
    return redirect(reverse("model_versions", kwargs={"project_id": version.project_id}))


@login_required
@require_POST
def model_promote(request: HttpRequest, version_id: int) -> HttpResponse:
    return _switch(request, version_id, rollback=False)


@login_required
@require_POST
def model_rollback(request: HttpRequest, version_id: int) -> HttpResponse:
    return _switch(request, version_id, rollback=True)


@login_required
@require_POST
def model_use_base(request: HttpRequest, project_id: int) -> HttpResponse:
    """Take the live version off (the button asks to confirm first); back to the models
    page with what happened, a full page load for htmx too."""
    try:
        project = svc.model_use_base(user=request.user, project_id=project_id)
    except StudioError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, "The project now uses its base model "
                         f"({project.effective_base_model}); "
                         "new drafts are written without a fine-tuned adapter.")
    url = reverse("model_versions", kwargs={"project_id": project_id})
    if request.htmx:  # type: ignore[attr-defined]
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _notes_context(request: HttpRequest, project: Project) -> dict[str, object]:
    return {
        "project": project, "here": "Preference notes",
        "proposals": notes_sel.note_proposals(request.user, project=project),
        "notes": list(notes_sel.preference_notes_of(project)),
        "kinds": dict(PreferenceNote.Kind.choices),
    }


@login_required
def preference_notes(request: HttpRequest, project_id: int) -> HttpResponse:
    """What editors keep changing, proposed as notes; the notes accepted or dismissed."""
    project = project_for_user(request.user, project_id, need=Need.ADMIN)
    return render(request, "studio/training/notes.html", _notes_context(request, project))


def _note_answer(request: HttpRequest, project_id: int, *, error: str = "") -> HttpResponse:
    """The page's answer to a decision: for htmx the notes section again (the proposal
    moved to the decided list, or the error next to it), else the page after a redirect."""
    if error and not request.htmx:  # type: ignore[attr-defined]
        messages.error(request, error)
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("preference_notes", project_id=project_id)
    project = project_for_user(request.user, project_id, need=Need.ADMIN)
    context = _notes_context(request, project) | {"error": error}
    return render(request, "studio/training/notes.html#notes", context,
                  status=400 if error else 200)


@login_required
@require_POST
def preference_note_decide(request: HttpRequest, project_id: int) -> HttpResponse:
    post = request.POST
    try:
        notes_svc.note_decide(
            user=request.user, project_id=project_id, decision=post.get("decision", ""),
            kind=post.get("kind", ""), proposed_before=post.get("proposed_before", ""),
            proposed_after=post.get("proposed_after", ""),
            before=post.get("before"), after=post.get("after"))
    except (ValidationError, StudioError) as exc:
        return _note_answer(request, project_id, error=error_text(exc))
    return _note_answer(request, project_id)


@login_required
@require_POST
def preference_note_update(request: HttpRequest, note_id: int) -> HttpResponse:
    post = request.POST
    try:
        note = notes_svc.note_update(user=request.user, note_id=note_id,
                                     decision=post.get("decision", ""),
                                     before=post.get("before", ""), after=post.get("after", ""))
    except (ValidationError, StudioError) as exc:
        project_id = PreferenceNote.objects.values_list("project_id", flat=True).get(pk=note_id)
        return _note_answer(request, project_id, error=error_text(exc))
    return _note_answer(request, note.project_id)
