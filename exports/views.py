"""The export URLs of the report page (CONTRACT section 10): thin views over exports.services and selectors.

Session login, and the API's ownership rule (reports.selectors): another
user's report is a 404. Answers are JSON for callers that accept it (the
panel's script) and short HTML pages for a browser's form posts and links.
"""

from django.contrib.auth.views import redirect_to_login
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods
from storages.backends.s3 import S3Storage

from reports.exceptions import ApplicationError
from reports.models import Report
from reports.selectors import report_get

from . import selectors, services
from .models import CONTENT_TYPES, Export, ExportFormat, ExportState

# Seconds between reloads of the "being prepared" page.
PREPARING_REFRESH_S = 3


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _report(request: HttpRequest, report_id) -> Report:
    return report_get(user=request.user, report_id=report_id)


def _report_page(report: Report) -> str:
    # The report page of the web app; built here so that this app does not depend on its URL names.
    return _report_page_path(report.pk)


def _report_page_path(report_id) -> str:
    return f"/reports/{report_id}/"


def download_url(report: Report, export_format: str) -> str:
    return reverse(f"report-export-{export_format}", kwargs={"report_id": report.pk})


def download_filename(report: Report, export_format: str) -> str:
    """Safe characters only ([a-z0-9_-] and the extension), whatever the report's name holds."""
    name = slugify(report.name)[:60].strip("-_") or "report"
    return f"{name}-{report.pk.hex[:8]}-g{report.generation}.{export_format}"


def export_json(export: Export, report: Report) -> dict:
    downloadable = selectors.export_downloadable(export=export, report=report)
    return {
        "id": export.pk,
        "format": export.format,
        "generation": export.generation,
        "attempt": export.attempt,
        "state": export.state,
        "error": export.error,
        "size": export.size,
        "complete": export.complete,
        "created_at": export.created_at.isoformat(),
        "started_at": export.started_at.isoformat() if export.started_at else None,
        "finished_at": export.finished_at.isoformat() if export.finished_at else None,
        "download_url": download_url(report, export.format) if downloadable else None,
    }


def _problem(request: HttpRequest, report: Report | None, error: ApplicationError) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error.as_data(), status=error.status_code, headers=error.headers)
    response = render(
        request,
        "exports/problem.html",
        {"message": error.message, "report": report, "back": _report_page(report) if report else "/"},
        status=error.status_code,
    )
    for name, value in error.headers.items():
        response[name] = value
    return response


@require_http_methods(["GET", "POST"])
def report_exports(request: HttpRequest, report_id) -> HttpResponse:
    """GET: the exports of the report's current generation (JSON). POST `format`: start one."""
    if not request.user.is_authenticated:
        if request.method == "GET" or _wants_json(request):
            return JsonResponse({"detail": "Sign in to see this report's exports."}, status=401)
        return redirect_to_login(_report_page_path(report_id))
    report = _report(request, report_id)
    if request.method == "GET":
        return JsonResponse(
            {
                "generation": report.generation,
                "exports": [
                    export_json(export, report) for export in selectors.exports_of_generation(report=report)
                ],
            }
        )
    export_format = request.POST.get("format", "")
    try:
        export, created = services.export_ensure(report=report, export_format=export_format)
    except ApplicationError as error:
        return _problem(request, report, error)
    if _wants_json(request):
        report.refresh_from_db()
        return JsonResponse(export_json(export, report), status=202 if created else 200)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = _report_page(report)
    return HttpResponseRedirect(back, status=303)


@require_http_methods(["GET", "HEAD"])
def report_export_download(request: HttpRequest, report_id, export_format: str) -> HttpResponseBase:
    """The finished file of the current generation; if there is none, start one and say it is being prepared."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    report = _report(request, report_id)
    export = selectors.export_latest(report=report, export_format=export_format)
    if export is None or not selectors.export_downloadable(export=export, report=report):
        try:
            # A failed export is shown, not started again: a reload must not loop on a failure.
            export, _ = services.export_ensure(report=report, export_format=export_format, retry_failed=False)
        except ApplicationError as error:
            if error.status_code != 409:
                return _problem(request, report, error)
            return _preparing(request, report, export_format, error.message)
        report.refresh_from_db()
    if export.state == ExportState.FAILED:
        return _failed(request, report, export)
    if not selectors.export_downloadable(export=export, report=report):
        return _preparing(request, report, export_format, "")
    response = _file_response(report, export)
    if response is None:
        # The file is gone (a bucket emptied or restored, a lifecycle rule):
        # a lost export, shown as a failure whose button makes a new one.
        services.export_mark_lost(export=export)
        return _failed(request, report, export)
    return response


def _failed(request: HttpRequest, report: Report, export: Export) -> HttpResponse:
    return render(
        request,
        "exports/failed.html",
        {"report": report, "export": export, "back": _report_page(report)},
        status=409,
    )


def _file_response(report: Report, export: Export) -> HttpResponseBase | None:
    """The file, or None when storage no longer has it."""
    filename = download_filename(report, export.format)
    content_type = CONTENT_TYPES[ExportFormat(export.format)]
    storage = getattr(default_storage, "_wrapped", default_storage)
    if isinstance(storage, S3Storage):
        # One HEAD: a signed URL of a lost object would send the browser to S3's error page.
        if not storage.exists(export.storage_key):
            return None
        # A signed URL that expires (AWS_QUERYSTRING_EXPIRE): the web process streams nothing.
        url = storage.url(
            export.storage_key,
            parameters={
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
                "ResponseContentType": content_type,
            },
        )
        return HttpResponseRedirect(url)
    try:
        stored = default_storage.open(export.storage_key, "rb")
    except FileNotFoundError:
        return None
    return FileResponse(
        stored,
        as_attachment=True,
        filename=filename,
        content_type=content_type,
    )


def _preparing(request: HttpRequest, report: Report, export_format: str, waiting_for: str) -> HttpResponse:
    response = render(
        request,
        "exports/preparing.html",
        {
            "report": report,
            "format": export_format.upper(),
            "waiting_for": waiting_for,
            "refresh_s": PREPARING_REFRESH_S,
            "back": _report_page(report),
        },
        status=202,
    )
    response["Retry-After"] = str(PREPARING_REFRESH_S)
    return response
