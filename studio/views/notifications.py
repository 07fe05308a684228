"""Notifications for people: the bell, the list, mark read, preferences."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from studio.models import NotificationKind
from studio.selectors.notifications import notifications_visible_to, unread_count
from studio.services.notifications import (
    notification_mark_read,
    preferences_of,
    preferences_save,
)


@login_required
@require_GET
def notification_bell(request: HttpRequest) -> HttpResponse:
    return render(request, "studio/notifications/_bell.html",
                  {"unread": unread_count(request.user)})


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(notifications_visible_to(request.user).select_related("team"), 50)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "studio/notifications/list.html",
                  {"page": page, "unread": unread_count(request.user)})


@login_required
@require_POST
def notification_read(request: HttpRequest) -> HttpResponse:
    ids = [int(v) for v in request.POST.getlist("ids") if v.isdigit() and len(v) < 12]
    notification_mark_read(user=request.user, notification_ids=ids or None)
    target = request.POST.get("open", "")
    # Opening a notification: only its own (stored, relative) link, never a typed one.
    if ids and target == "1":
        note = notifications_visible_to(request.user).filter(pk=ids[0]).first()
        if note is not None and note.url.startswith("/") and not note.url.startswith("//"):
            return redirect(note.url)
    return redirect("notifications")


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        preferences_save(user=request.user, choices={
            kind: (f"{kind}:in_app" in request.POST, f"{kind}:email" in request.POST)
            for kind in NotificationKind.values
        })
        messages.success(request, "Notification settings saved.")
        return redirect("notification_settings")
    prefs = preferences_of(request.user)
    rows = [(kind, label, *prefs[kind]) for kind, label in NotificationKind.choices]
    return render(request, "studio/notifications/settings.html",
                  {"rows": rows, "has_email": bool(getattr(request.user, "email", ""))})
