"""Project knowledge: documents (typed or uploaded), one document, the fact list.

Every member reads; admins and marketers write. Writes are the pages' services, so the
limits and messages are the same: a refused write changes nothing.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from studio.api.base import (
    PayloadTooLarge,
    StrictSerializer,
    StudioAPIView,
    error_responses,
)
from studio.models import KnowledgeDocument, KnowledgePassage
from studio.models.knowledge import TITLE_MAX
from studio.permissions import Need, knowledge_document_for_user, project_for_user
from studio.selectors.knowledge import project_documents, project_facts
from studio.services.knowledge import (
    knowledge_document_create,
    knowledge_document_delete,
    knowledge_document_update,
    knowledge_facts_set,
    knowledge_upload_too_large,
)
from studio.uploads import limit_knowledge_upload


class KnowledgeDocumentSerializer(serializers.ModelSerializer):
    added_by = serializers.CharField(source="added_by.username", read_only=True,
                                     allow_null=True, default=None)
    passage_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = KnowledgeDocument
        fields = ["id", "project", "title", "kind", "filename", "size", "passage_count",
                  "added_by", "created_at", "updated_at"]
        read_only_fields = fields


class KnowledgePassageSerializer(serializers.ModelSerializer):
    class Meta:
        model = KnowledgePassage
        fields = ["id", "ordinal", "text"]
        read_only_fields = fields


class KnowledgeDocumentDetailSerializer(KnowledgeDocumentSerializer):
    passages = KnowledgePassageSerializer(many=True, read_only=True)

    class Meta(KnowledgeDocumentSerializer.Meta):
        fields = [*KnowledgeDocumentSerializer.Meta.fields, "text", "passages"]
        read_only_fields = fields


class KnowledgeTextInputSerializer(StrictSerializer):
    """Types only; the limits (characters, passages per project) are the service's."""

    title = serializers.CharField(max_length=TITLE_MAX)
    kind = serializers.ChoiceField(choices=["text", "markdown"], default="text")
    text = serializers.CharField(trim_whitespace=False)


class KnowledgeEditInputSerializer(StrictSerializer):
    title = serializers.CharField(max_length=TITLE_MAX, required=False)
    text = serializers.CharField(trim_whitespace=False, required=False)


class KnowledgeUploadInputSerializer(StrictSerializer):
    title = serializers.CharField(max_length=TITLE_MAX, required=False, allow_blank=True,
                                  help_text="Empty: the file's name.")
    file = serializers.FileField(help_text=".txt or .md (UTF-8), or a .pdf with a text layer; "
                                 "at most KNOWLEDGE_UPLOAD_MAX_BYTES (10 MB by default).")


class FactsSerializer(serializers.Serializer):
    facts = serializers.ListField(child=serializers.CharField(), read_only=True)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)


class FactsInputSerializer(StrictSerializer):
    facts = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        allow_empty=True,
        help_text="One fact per item (an empty list deletes the fact list); at most "
                  "KNOWLEDGE_MAX_FACTS (2,000 by default).",
    )


def _with_count(document: KnowledgeDocument) -> KnowledgeDocument:
    document.passage_count = document.passages.count()  # type: ignore[attr-defined]
    return document


def _facts_body(document: KnowledgeDocument | None) -> dict[str, Any]:
    if document is None:
        return {"facts": [], "updated_at": None}
    return {"facts": list(document.passages.order_by("ordinal").values_list("text", flat=True)),
            "updated_at": document.updated_at}


class ProjectKnowledgeView(StudioAPIView):
    @extend_schema(responses={200: KnowledgeDocumentSerializer(many=True),
                              **error_responses(404)})
    def get(self, request: Request, project_id: int) -> Response:
        project = project_for_user(request.user, project_id, need=Need.VIEW)
        return Response(KnowledgeDocumentSerializer(project_documents(project=project),
                                                    many=True).data)

    @extend_schema(request=KnowledgeTextInputSerializer,
                   responses={201: KnowledgeDocumentSerializer, **error_responses(400, 404)})
    def post(self, request: Request, project_id: int) -> Response:
        body = KnowledgeTextInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        document = knowledge_document_create(user=request.user, project_id=project_id,
                                             **body.validated_data)
        return Response(KnowledgeDocumentSerializer(_with_count(document)).data,
                        status=status.HTTP_201_CREATED)


class ProjectKnowledgeUploadView(StudioAPIView):
    parser_classes = [MultiPartParser]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Before authentication: the session's CSRF check parses the body.
        limit_knowledge_upload(request._request)
        super().initial(request, *args, **kwargs)

    def body_limit(self) -> int | None:
        # The upload handler stops a larger file itself, and post() says why.
        return None

    @extend_schema(request={"multipart/form-data": KnowledgeUploadInputSerializer},
                   responses={201: KnowledgeDocumentSerializer,
                              **error_responses(400, 404)})
    def post(self, request: Request, project_id: int) -> Response:
        project_for_user(request.user, project_id, need=Need.KNOWLEDGE)
        data = request.data  # parsed here: the upload handler stops a file over the limit
        refused = knowledge_upload_too_large(
            getattr(request._request, "knowledge_upload_refused", None))
        if refused is not None:
            raise PayloadTooLarge(" ".join(refused.messages))
        body = KnowledgeUploadInputSerializer(data=data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        document = knowledge_document_create(
            user=request.user, project_id=project_id, title=body.validated_data.get("title", ""),
            file_name=upload.name or "", file_data=upload.read(),
        )
        return Response(KnowledgeDocumentSerializer(_with_count(document)).data,
                        status=status.HTTP_201_CREATED)


class KnowledgeDocumentView(StudioAPIView):
    @extend_schema(responses={200: KnowledgeDocumentDetailSerializer, **error_responses(404)})
    def get(self, request: Request, document_id: int) -> Response:
        document = knowledge_document_for_user(request.user, document_id, need=Need.VIEW)
        return Response(KnowledgeDocumentDetailSerializer(_with_count(document)).data)

    @extend_schema(request=KnowledgeEditInputSerializer,
                   responses={200: KnowledgeDocumentDetailSerializer, **error_responses(400, 404)})
    def patch(self, request: Request, document_id: int) -> Response:
        body = KnowledgeEditInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        document = knowledge_document_update(user=request.user, document_id=document_id,
                                             **body.validated_data)
        return Response(KnowledgeDocumentDetailSerializer(_with_count(document)).data)

    @extend_schema(request=None, responses={204: None, **error_responses(404)})
    def delete(self, request: Request, document_id: int) -> Response:
        knowledge_document_delete(user=request.user, document_id=document_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectFactsView(StudioAPIView):
    @extend_schema(responses={200: FactsSerializer, **error_responses(404)})
    def get(self, request: Request, project_id: int) -> Response:
        project = project_for_user(request.user, project_id, need=Need.VIEW)
        return Response(FactsSerializer(_facts_body(project_facts(project=project))).data)

    @extend_schema(request=FactsInputSerializer,
                   responses={200: FactsSerializer, **error_responses(400, 404)})
    def put(self, request: Request, project_id: int) -> Response:
        body = FactsInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        facts = body.validated_data["facts"]
        if any("\n" in f or "\r" in f for f in facts):
            raise serializers.ValidationError({"facts": ["One fact per item: no line breaks "
                                                         "inside a fact."]})
        document = knowledge_facts_set(user=request.user, project_id=project_id,
                                       text="\n".join(facts))
        return Response(FactsSerializer(_facts_body(document)).data)
