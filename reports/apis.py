"""HTTP API of reports: thin views over reports.services, reports.selectors and reports.merge."""

from datetime import datetime

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.fields import DateTimeField
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from config.throttling import UserRateThrottle
from players.serializers import ErrorDetailSerializer, field_errors_serializer

from . import fairshare, merge, selectors, services, status_cache
from .exceptions import ApplicationError
from .models import Report, ReportStatus
from .serializers import (
    ReportCreateSerializer,
    ReportDataSerializer,
    ReportListSerializer,
    ReportStatusSerializer,
    TaskSerializer,
)

# --- The schema (drf-spectacular): every answer with its body and headers -------------------
# Errors are DRF's two shapes (SPECTACULAR_SETTINGS' description): field errors
# for a bad body, query parameter or header, `{"detail": ...}` for the rest.
_MESSAGES = {"type": "array", "items": {"type": "string"}}
# A list field's bad items are named by their index, as DRF does: {"sections": {"0": ["..."]}}.
_MESSAGES_OR_PER_ITEM = {"oneOf": [_MESSAGES, {"type": "object", "additionalProperties": _MESSAGES}]}
CREATE_ERRORS = {
    "type": "object",
    "properties": {
        "name": _MESSAGES,
        "players": _MESSAGES_OR_PER_ITEM,
        "sections": _MESSAGES_OR_PER_ITEM,
        "non_field_errors": _MESSAGES,
        "Idempotency-Key": _MESSAGES,
        # A body that is not JSON, or not an object, at all.
        "detail": {"type": "string"},
    },
    # An unknown field of the body is named too: {"colour": ["Unknown field."]}.
    "additionalProperties": _MESSAGES,
}
LIST_ERRORS = field_errors_serializer("ReportListError", ["page_size"])
ERRORS = {
    401: OpenApiResponse(
        ErrorDetailSerializer, description="Authentication credentials were not provided or are invalid."
    ),
    404: OpenApiResponse(ErrorDetailSerializer, description="No such report, or not yours."),
    429: OpenApiResponse(
        ErrorDetailSerializer, description="Too many requests from this user; see Retry-After."
    ),
}
# Only POST and DELETE: a session's unsafe request needs the CSRF token, a token's does not.
CSRF_MISSING = OpenApiResponse(
    ErrorDetailSerializer, description="A session request without its CSRF token (X-CSRFToken)."
)
HEADERS = [
    OpenApiParameter(
        "Location",
        str,
        OpenApiParameter.HEADER,
        response=[202],
        required=True,
        description="The report's status URL.",
    ),
    OpenApiParameter(
        "Retry-After",
        int,
        OpenApiParameter.HEADER,
        response=[429],
        required=True,
        description="Seconds to wait before the next request.",
    ),
    OpenApiParameter(
        "WWW-Authenticate",
        str,
        OpenApiParameter.HEADER,
        response=[401],
        required=True,
        description="`Token`: the authentication scheme expected.",
    ),
]
STATUS_HEADERS = [
    OpenApiParameter(
        "ETag",
        str,
        OpenApiParameter.HEADER,
        response=[200, 304],
        required=True,
        description="Send it back as If-None-Match: 304 until the status changes.",
    ),
    OpenApiParameter(
        "If-None-Match",
        str,
        OpenApiParameter.HEADER,
        description="The ETag of a status read before: 304 with no body if nothing changed since.",
    ),
]
DATA_HEADERS = [
    OpenApiParameter(
        "Retry-After",
        int,
        OpenApiParameter.HEADER,
        response=[202, 429],
        required=True,
        description="Seconds to wait: until the fast sections may have ended (202), or for the throttle (429).",
    ),
    OpenApiParameter(
        "X-Report-Source",
        {"type": "string", "enum": ["partials", "merged"]},
        OpenApiParameter.HEADER,
        response=[200],
        required=True,
        description="`partials` while slow sections are outstanding (merged on the fly), then `merged`.",
    ),
]
# The column's width: a longer key is refused, not truncated (MySQL's strict mode would fail the insert).
IDEMPOTENCY_KEY_MAX_LENGTH: int = Report._meta.get_field("idempotency_key").max_length or 200


class ReportCreateThrottle(UserRateThrottle):
    scope = "report_create"


class ReportDataThrottle(UserRateThrottle):
    # Each read while slow sections run merges every partial: far dearer than a status poll.
    scope = "report_data"


# One instance, so every datetime in a status is formatted as DRF formats it.
_DATETIME = DateTimeField()


def _datetime(value: datetime | None) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


def status_body(request, report: Report, *, detail: bool = False) -> dict:
    """The status, in the shape ReportStatusSerializer documents: the one place it is built.

    By hand rather than by DRF's fields, which took half of a status answer's
    time (docs/performance.md); reports/tests/test_apis.py checks it against
    the serializer's fields.
    """
    body = {
        "id": str(report.pk),
        "name": report.name,
        "status": str(report.status),
        "created_at": _datetime(report.created_at),
        "ready_at": _datetime(report.ready_at),
        "completed_at": _datetime(report.completed_at),
        "players": report.player_ids,
        "sections": report.sections,
        "progress": selectors.report_progress(report),
        "queue": fairshare.report_queue(report),
        "eta_seconds": selectors.report_eta_seconds(report),
        "data_url": _data_url(request, report.pk),
    }
    if detail:
        body["tasks"] = TaskSerializer(selectors.report_tasks(report), many=True).data
    return body


def _data_url(request, report_id) -> str:
    return request.build_absolute_uri(reverse("report-data", kwargs={"report_id": report_id}))


def _idempotency_key(request) -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise ApplicationError(
            f"At most {IDEMPOTENCY_KEY_MAX_LENGTH} characters, not {len(key)}.", field="Idempotency-Key"
        )
    return key or None


def _status_response(request, report: Report, *, code: int, headers: dict | None = None) -> Response:
    headers = dict(headers or {})
    headers.setdefault("Location", reverse("report-detail", kwargs={"report_id": report.pk}))
    return Response(status_body(request, report), status=code, headers=headers)


# POST: create a report, for `POST /api/reports/` and `POST /create-report` alike. (A comment,
# not a docstring: drf-spectacular would make a docstring every operation's description.)
class _ReportCreate:
    def get_throttles(self):
        if self.request.method == "POST":
            return [*super().get_throttles(), ReportCreateThrottle()]
        return super().get_throttles()

    @extend_schema(
        tags=["reports"],
        summary="Create a report: one task per player and section, on the fast and slow queues",
        request=ReportCreateSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
                OpenApiParameter.HEADER,
                description=f"A repeat with the same key and body returns the same report; "
                f"at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters.",
            ),
            *HEADERS,
        ],
        examples=[
            OpenApiExample(
                "One player, one section",
                value={"name": "Mbappé's profile", "players": [353833], "sections": ["profile"]},
                request_only=True,
            ),
        ],
        responses={
            202: OpenApiResponse(ReportStatusSerializer, description="Created (or repeated); see Location."),
            400: OpenApiResponse(
                CREATE_ERRORS,
                description="Unknown, repeated or malformed player ids, an empty list or one over the "
                "limit, unknown sections or fields: each named. Nothing was created.",
            ),
            401: ERRORS[401],
            403: CSRF_MISSING,
            409: OpenApiResponse(
                ErrorDetailSerializer, description="Idempotency-Key reused with another body."
            ),
            413: OpenApiResponse(
                ErrorDetailSerializer, description="The request body is over DATA_UPLOAD_MAX_MEMORY_SIZE."
            ),
            415: OpenApiResponse(
                ErrorDetailSerializer, description="A body that is not JSON, a form or multipart."
            ),
            429: OpenApiResponse(
                ErrorDetailSerializer, description="Too many reports created, or requests; see Retry-After."
            ),
            503: OpenApiResponse(
                ErrorDetailSerializer,
                description="The task broker is unreachable (answered within BROKER_CHECK_TIMEOUT_S); "
                "nothing was created. Try again.",
            ),
        },
    )
    def post(self, request):
        serializer = ReportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        report, _ = services.report_create(
            owner=request.user,
            name=serializer.validated_data["name"],
            player_ids=serializer.validated_data["players"],
            sections=serializer.validated_data.get("sections"),
            idempotency_key=_idempotency_key(request),
        )
        return _status_response(request, report, code=status.HTTP_202_ACCEPTED)


class ReportListCreateApi(_ReportCreate, ListAPIView):
    serializer_class = ReportListSerializer

    def get_queryset(self):
        return selectors.reports_visible_to(self.request.user).order_by("-created_at", "-id")

    @extend_schema(
        tags=["reports"],
        summary="The caller's reports, newest first",
        parameters=HEADERS,
        responses={
            200: ReportListSerializer(many=True),
            400: OpenApiResponse(LIST_ERRORS, description="A `page_size` that is not a whole number from 1."),
            401: ERRORS[401],
            404: OpenApiResponse(ErrorDetailSerializer, description="`page` is beyond the last page."),
            429: ERRORS[429],
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CreateReportApi(_ReportCreate, APIView):
    """`POST /create-report`, the path the existing frontend calls: the same as POST /api/reports/."""


class ReportDetailApi(APIView):
    @extend_schema(
        tags=["reports"],
        summary="A report's status and progress",
        parameters=[
            OpenApiParameter("detail", str, enum=["tasks"], description="`tasks`: one row per task"),
            *STATUS_HEADERS,
            *HEADERS,
        ],
        responses={
            200: ReportStatusSerializer,
            304: OpenApiResponse(description="Not modified since the ETag sent as If-None-Match; no body."),
            **ERRORS,
        },
    )
    def get(self, request, report_id):
        detail = request.query_params.get("detail") == "tasks"
        if_none_match = [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",") if tag]
        noted, kept = None, None
        if not detail and if_none_match:
            noted = status_cache.lookup(report_id)  # a poller: its ETag needs only the revision
        elif not detail:
            noted, kept = status_cache.lookup_with_body(report_id)
        if noted is not None and selectors.report_visible(request.user, owner_id=noted.owner_id):
            # A poller's usual request, and a first one at a revision already read:
            # answered from Redis, without the database.
            etag = selectors.revision_etag(noted.revision)
            if etag in if_none_match:
                return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
            if kept is not None:
                return Response({**kept, "data_url": _data_url(request, report_id)}, headers={"ETag": etag})
        report = selectors.report_get(user=request.user, report_id=report_id)
        if not detail and (noted is None or noted.revision < report.revision):
            status_cache.note(report_id=report.pk, revision=report.revision, owner_id=report.owner_id)
        etag = selectors.report_etag(report, detail=detail)
        if etag in if_none_match:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        body = status_body(request, report, detail=detail)
        if not detail:
            status_cache.keep_body(
                report_id=report.pk,
                revision=report.revision,
                body={name: value for name, value in body.items() if name != "data_url"},
            )
        return Response(body, headers={"ETag": etag})

    @extend_schema(
        tags=["reports"],
        summary="Delete a report, revoke its outstanding tasks and remove files no other report uses",
        parameters=HEADERS,
        responses={204: OpenApiResponse(description="Deleted; no body."), 403: CSRF_MISSING, **ERRORS},
    )
    def delete(self, request, report_id):
        services.report_delete(report=selectors.report_get(user=request.user, report_id=report_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReportDataApi(APIView):
    http_method_names = ["get", "head", "options"]

    def get_throttles(self):
        return [*super().get_throttles(), ReportDataThrottle()]

    @extend_schema(
        tags=["reports"],
        summary="A report's data: every section of every player, merged",
        parameters=[*DATA_HEADERS, *(header for header in HEADERS if header.name != "Retry-After")],
        responses={
            200: ReportDataSerializer,
            202: OpenApiResponse(
                ReportStatusSerializer, description="Not ready yet: the status; see Retry-After."
            ),
            **ERRORS,
        },
    )
    def get(self, request, report_id):
        report = selectors.report_get(user=request.user, report_id=report_id)
        # A cancelled report is read with what had finished, ready or not.
        if report.ready_at is None and report.status != ReportStatus.CANCELLED:
            retry_after = max(1, min(30, selectors.report_eta_seconds(report) or 1))
            return _status_response(
                request, report, code=status.HTTP_202_ACCEPTED, headers={"Retry-After": str(retry_after)}
            )
        data = merge.report_data_read(report=report)
        body = merge.sign_file_urls(data.body) if "visuals" in report.sections else data.body
        return HttpResponse(body, content_type="application/json", headers={"X-Report-Source": data.source})


class ReportRetryApi(APIView):
    http_method_names = ["post", "options"]

    @extend_schema(
        tags=["reports"],
        summary="Re-enqueue a report's failed sections",
        request=None,
        parameters=HEADERS,
        responses={
            202: OpenApiResponse(ReportStatusSerializer, description="Re-enqueued; see Location."),
            400: OpenApiResponse(ErrorDetailSerializer, description="The report has no failed sections."),
            403: CSRF_MISSING,
            **ERRORS,
        },
    )
    def post(self, request, report_id):
        report = services.report_retry(report=selectors.report_get(user=request.user, report_id=report_id))
        return _status_response(request, report, code=status.HTTP_202_ACCEPTED)


class ReportCancelApi(APIView):
    http_method_names = ["post", "options"]

    @extend_schema(
        tags=["reports"],
        summary="Cancel a report: sections not started never run; what finished stays readable",
        request=None,
        parameters=HEADERS,
        responses={
            200: OpenApiResponse(
                ReportStatusSerializer,
                description="Cancelled: status `cancelled`; sections running now finish and are kept.",
            ),
            403: CSRF_MISSING,
            409: OpenApiResponse(
                ErrorDetailSerializer,
                description="The report had already ended (complete, failed, cancelled).",
            ),
            **ERRORS,
        },
    )
    def post(self, request, report_id):
        report = fairshare.report_cancel(report=selectors.report_get(user=request.user, report_id=report_id))
        return _status_response(request, report, code=status.HTTP_200_OK)
