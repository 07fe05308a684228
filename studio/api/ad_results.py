"""API: a picked A/B variant's reported results (list, report one period)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from studio.api.base import StrictSerializer, StudioAPIView, error_responses
from studio.api.serializers import PlainTextField
from studio.models import AdResult
from studio.permissions import Need, draft_for_user
from studio.services.ad_results import ad_result_report


class AdResultInputSerializer(StrictSerializer):
    """Types only; the rules (period over, clicks ≤ impressions…) are the service's."""

    period_start = serializers.DateField()
    period_end = serializers.DateField()
    impressions = serializers.IntegerField(min_value=0, max_value=2_000_000_000)
    clicks = serializers.IntegerField(min_value=0, max_value=2_000_000_000)
    conversions = serializers.IntegerField(min_value=0, max_value=2_000_000_000, required=False)
    note = PlainTextField(required=False, allow_blank=True, max_length=500)


class AdResultSerializer(serializers.ModelSerializer):
    reported_by = serializers.CharField(source="reported_by.username", read_only=True,
                                        allow_null=True, default=None)

    class Meta:
        model = AdResult
        fields = ["id", "draft", "period_start", "period_end", "impressions", "clicks",
                  "conversions", "note", "reported_by", "created_at", "updated_at"]
        read_only_fields = fields


class DraftAdResultsView(StudioAPIView):
    @extend_schema(responses={200: AdResultSerializer(many=True), **error_responses(404)})
    def get(self, request: Request, draft_id: int) -> Response:
        """The results reported for a variant, oldest period first."""
        draft = draft_for_user(request.user, draft_id, need=Need.VIEW)
        results = AdResult.objects.filter(draft=draft).select_related("reported_by")
        return Response(AdResultSerializer(results, many=True).data)

    @extend_schema(request=AdResultInputSerializer,
                   responses={200: AdResultSerializer, 201: AdResultSerializer,
                              **error_responses(400, 403, 404)})
    def post(self, request: Request, draft_id: int) -> Response:
        """Report what a picked ad copy variant did over one period (marketers and admins).
        Reporting the same period again replaces its numbers (200); a new period is 201."""
        draft_for_user(request.user, draft_id, need=Need.AB_TEST)
        body = AdResultInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result, created = ad_result_report(user=request.user, draft_id=draft_id,
                                           data=body.validated_data)
        return Response(AdResultSerializer(result).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
