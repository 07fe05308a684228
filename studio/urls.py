from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from studio.api.views.health import healthz
from studio.views import accounts, dashboard, members, notifications, projects

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("login/", accounts.LoginView.as_view(), name="login"),
    path("logout/", dashboard.StudioLogoutView.as_view(), name="logout"),
    path("account/password/", accounts.PasswordChangeView.as_view(), name="password_change"),
    # New members get a one-time password (member_invite, create_team): signing in with it
    # leads here, and nowhere else, until they choose their own.
    path("account/password/new/", accounts.password_set, name="password_set"),
    path("account/tokens/", accounts.api_tokens, name="api_tokens"),
    path("account/tokens/<int:token_id>/revoke/", accounts.api_token_delete,
         name="api_token_revoke"),
    path(
        "account/password/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="registration/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/bell/", notifications.notification_bell, name="notification_bell"),
    path("notifications/read/", notifications.notification_read, name="notification_read"),
    path("notifications/settings/", notifications.notification_settings,
         name="notification_settings"),
    path("team/switch/", dashboard.team_switch, name="team_switch"),
    path("teams/<int:team_id>/members/", members.team_members_page, name="team_members"),
    path("members/<int:membership_id>/role/", members.member_role, name="member_role"),
    path("members/<int:membership_id>/remove/", members.member_delete, name="member_remove"),
    path("projects/new/", projects.project_new, name="project_new"),
    path("projects/<int:project_id>/", projects.project_detail, name="project_detail"),
    path("projects/<int:project_id>/settings/", projects.project_settings,
         name="project_settings"),
    # Brief desk and review workspace and the live generation pipeline.
    path("", include("studio.views.urls_desk")),
    path("", include("studio.views.urls_generation")),
    path("", include("studio.views.urls_training")),
    path("", include("studio.views.urls_knowledge")),
    path("api/", include("studio.api.urls")),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
