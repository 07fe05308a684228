"""The A/B results section of an ad copy brief's page (loaded and updated with htmx)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from studio.forms.ad_results import AdResultForm
from studio.models import Brief
from studio.permissions import Need, brief_for_user, draft_for_user, role_allows, role_in
from studio.selectors.ad_results import ab_test_summary
from studio.services.ad_results import ad_result_report
from studio.services.errors import StudioError
from studio.views.errors import form_add_error


def _section(request: HttpRequest, brief: Brief, form: AdResultForm | None = None,
             *, status: int = 200, reported: bool = False) -> HttpResponse:
    if not brief.takes_ad_results:
        raise Http404("Only ad copy briefs run A/B tests.")
    can_ab_test = role_allows(role_in(request.user, brief.project.team_id), Need.AB_TEST)
    return render(request, "studio/briefs/_ab_results.html", {
        "brief": brief, "ab": ab_test_summary(brief), "can_ab_test": can_ab_test,
        "form": form or AdResultForm(), "reported": reported,
    }, status=status)


@login_required
@require_GET
def brief_ab_results(request: HttpRequest, brief_id: int) -> HttpResponse:
    return _section(request, brief_for_user(request.user, brief_id))


@login_required
@require_POST
def brief_ab_report(request: HttpRequest, brief_id: int) -> HttpResponse:
    brief = brief_for_user(request.user, brief_id, need=Need.AB_TEST)
    form = AdResultForm(request.POST)
    draft_id = request.POST.get("draft", "")
    try:
        draft = draft_for_user(request.user, draft_id, need=Need.AB_TEST)
        if draft.job.brief_id != brief.pk:
            raise Http404("No such variant in this brief.")
        ad_result_report(user=request.user, draft_id=draft.pk, data=request.POST)
    except Http404:
        form.is_valid()
        form.add_error(None, "Choose one of this brief's picked variants.")
    except ValidationError:
        form.is_valid()  # the same form the service used: its field errors, as typed
    except StudioError as exc:  # a rule about the variant, not a field
        form.is_valid()
        form_add_error(form, exc)
    else:
        if request.htmx:  # type: ignore[attr-defined]
            return _section(request, brief, reported=True)
        messages.success(request, "Results saved.")
        return redirect("brief_detail", brief_id=brief.pk)
    if request.htmx:  # type: ignore[attr-defined]
        return _section(request, brief, form, status=422)
    messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
    return redirect("brief_detail", brief_id=brief.pk)
