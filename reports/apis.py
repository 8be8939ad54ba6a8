"""HTTP API of reports: thin views over reports.services, reports.selectors and reports.merge."""

from datetime import datetime

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.fields import DateTimeField
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from config.throttling import UserRateThrottle

from . import merge, selectors, services, status_cache
from .exceptions import ApplicationError
from .models import Report
from .serializers import (
    ReportCreateSerializer,
    ReportDataSerializer,
    ReportListSerializer,
    ReportStatusSerializer,
    TaskSerializer,
)

ERRORS = {
    400: OpenApiResponse(description="Invalid input; the body names each problem."),
    401: OpenApiResponse(description="Authentication credentials were not provided or are invalid."),
    404: OpenApiResponse(description="No such report, or not yours."),
    429: OpenApiResponse(description="Too many requests from this user; see Retry-After."),
}
# The column's width: a longer key is refused, not truncated (MySQL's strict mode would fail the insert).
IDEMPOTENCY_KEY_MAX_LENGTH: int = Report._meta.get_field("idempotency_key").max_length or 200


class ReportCreateThrottle(UserRateThrottle):
    scope = "report_create"


# One instance, so every datetime in a status is formatted as DRF formats it.
_DATETIME = DateTimeField()


def _datetime(value: datetime | None) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


def status_body(request, report: Report, *, detail: bool = False) -> dict:
    """The status, in the shape ReportStatusSerializer documents.

    Built here rather than by the serializer: a poller's first request and
    every change it sees get one, and the serializer took half of such an
    answer's time, most of it converting a 500-player report's player ids one
    by one (docs/performance.md). reports/tests/test_apis.py checks that the
    two agree.
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


class ReportListCreateApi(ListAPIView):
    serializer_class = ReportListSerializer

    def get_throttles(self):
        if self.request.method == "POST":
            return [*super().get_throttles(), ReportCreateThrottle()]
        return super().get_throttles()

    def get_queryset(self):
        return selectors.reports_visible_to(self.request.user).order_by("-created_at", "-id")

    @extend_schema(
        responses={
            200: ReportListSerializer(many=True),
            400: OpenApiResponse(description="A `page_size` that is not a whole number from 1."),
            401: ERRORS[401],
            404: OpenApiResponse(description="`page` is beyond the last page."),
            429: ERRORS[429],
        }
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=ReportCreateSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
                OpenApiParameter.HEADER,
                description=f"A repeat with the same key and body returns the same report; "
                f"at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters.",
            )
        ],
        responses={
            202: ReportStatusSerializer,
            **ERRORS,
            409: OpenApiResponse(description="Idempotency-Key reused with another body."),
            413: OpenApiResponse(description="The request body is over DATA_UPLOAD_MAX_MEMORY_SIZE."),
            415: OpenApiResponse(description="A body that is not JSON, a form or multipart."),
            429: OpenApiResponse(description="Too many reports created, or requests; see Retry-After."),
            503: OpenApiResponse(description="The task broker is unreachable; nothing was created."),
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


class CreateReportApi(ReportListCreateApi):
    """`POST /create-report`, the path the existing frontend calls: the same as POST /api/reports/."""

    http_method_names = ["post", "options"]


class ReportDetailApi(APIView):
    def _report(self, request, report_id) -> Report:
        return get_object_or_404(selectors.reports_visible_to(request.user), pk=report_id)

    @extend_schema(
        parameters=[OpenApiParameter("detail", str, enum=["tasks"], description="`tasks`: one row per task")],
        responses={
            200: ReportStatusSerializer,
            304: OpenApiResponse(description="Not modified (ETag)."),
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
        report = self._report(request, report_id)
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

    @extend_schema(responses={204: None, **ERRORS})
    def delete(self, request, report_id):
        services.report_delete(report=self._report(request, report_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReportDataApi(ReportDetailApi):
    http_method_names = ["get", "head", "options"]

    @extend_schema(
        responses={
            200: ReportDataSerializer,
            202: OpenApiResponse(ReportStatusSerializer, description="Not ready yet; see Retry-After."),
            **ERRORS,
        }
    )
    def get(self, request, report_id):
        report = self._report(request, report_id)
        if report.ready_at is None:
            retry_after = max(1, min(30, selectors.report_eta_seconds(report) or 1))
            return _status_response(
                request, report, code=status.HTTP_202_ACCEPTED, headers={"Retry-After": str(retry_after)}
            )
        data = merge.report_data_read(report=report)
        body = merge.sign_file_urls(data.body) if "visuals" in report.sections else data.body
        return HttpResponse(body, content_type="application/json", headers={"X-Report-Source": data.source})


class ReportRetryApi(ReportDetailApi):
    http_method_names = ["post", "options"]

    @extend_schema(request=None, responses={202: ReportStatusSerializer, **ERRORS})
    def post(self, request, report_id):
        report = services.report_retry(report=self._report(request, report_id))
        return _status_response(request, report, code=status.HTTP_202_ACCEPTED)
