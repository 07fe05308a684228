"""Edit cost per model version, content kind and week (admins, as on the models page)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from studio.api import serializers as s
from studio.api.base import StudioAPIView, error_responses
from studio.permissions import Need, project_for_user
from studio.selectors import editcost as editcost_sel


class ProjectEditCostView(StudioAPIView):
    @extend_schema(parameters=[s.EditCostQuerySerializer],
                   responses={200: s.EditCostSerializer, **error_responses(400, 404)})
    def get(self, request: Request, project_id: int) -> Response:
        """What editors changed before approving the project's drafts: approved as is,
        with edits, rejected, the normalised edit distance and the time to decision, per
        model version (the base model included), per content kind and per week."""
        project = project_for_user(request.user, project_id, need=Need.ADMIN)
        query = s.EditCostQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        summary = editcost_sel.edit_cost_summary(request.user, project=project,
                                                 weeks=query.validated_data["weeks"])
        return Response(s.EditCostSerializer({
            "project": project.pk, "weeks": summary.weeks, "overall": summary.overall,
            "by_version": summary.by_version, "by_kind": summary.by_kind,
            "by_week": summary.by_week,
        }).data)
