"""The report pages: thin views over reports.services / reports.selectors, players.selectors and web's own.

Every report page goes through `reports.selectors.reports_visible_to`, the
API's rule: another user's report is a 404, staff see all. The report page's
first view is the page shell and the status only (one row); the figures come
from the data API, fetched by the page's script (docs/frontend.md).
"""

import mimetypes
from typing import Any, cast

import orjson
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from players import selectors as player_selectors
from reports import fairshare, merge
from reports import services as report_services
from reports.apis import status_body
from reports.exceptions import ApplicationError
from reports.models import Report
from reports.sections import REGISTRY
from reports.selectors import report_get, report_progress, reports_visible_to
from reports.serializers import ReportCreateSerializer

from . import compare, selectors, services
from .models import ShareLink

# Section names as a reader sees them, in the registry's order.
SECTION_LABELS = {
    "profile": "Profile",
    "season_stats": "Season",
    "match_log": "Match log",
    "shot_map": "Shot map",
    "heatmap": "Heatmap",
    "percentiles": "Percentiles",
    "similar_players": "Similar players",
    "expected_threat": "Expected threat",
    "possession_value": "Possession value",
    "visuals": "Pictures",
}
# Headers that keep a shared page (its token is in the address) out of caches and search engines.
SHARED_HEADERS = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"}
# The owner's pictures: keys name their content (reports.keys), a file under a key never changes.
# A share's pictures get SHARED_HEADERS instead, so a revoked link's do not live on in caches.
OWNER_FILE_HEADERS = {"Cache-Control": "private, max-age=86400"}


def _visible_report(request: HttpRequest, report_id) -> Report:
    return report_get(user=request.user, report_id=report_id)


def error_page(request: HttpRequest, *, title: str, message: str, status: int) -> HttpResponse:
    return render(request, "web/error.html", {"title": title, "message": message}, status=status)


# --- The list and the create page -------------------------------------------------


@login_required
@require_GET
def report_list(request: HttpRequest) -> HttpResponse:
    reports = reports_visible_to(request.user).select_related("owner").order_by("-created_at", "-id")
    page = Paginator(reports, settings.WEB_REPORTS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [{"report": report, "progress": report_progress(report)} for report in page]
    return render(request, "web/report_list.html", {"page": page, "rows": rows})


def _whole(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts '²' and '٣', which int() rejects or reads."""
    return text.isascii() and text.isdecimal()


def _error_messages(errors, prefix: str = "") -> list[str]:
    """DRF's nested error shape ({"players": {"0": [...]}}) as flat sentences."""
    if isinstance(errors, dict):
        return [
            message
            for key, value in errors.items()
            for message in _error_messages(
                value, f"{prefix}item {int(key) + 1}: " if _whole(str(key)) else ""
            )
        ]
    if isinstance(errors, list):
        return [message for value in errors for message in _error_messages(value, prefix)]
    return [f"{prefix}{errors}"]


@login_required
def report_new(request: HttpRequest) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {
        "name": "",
        "players": request.GET.get("players", ""),
        "sections": [s.name for s in REGISTRY],
    }
    status = 200
    if request.method == "POST":
        values = {
            "name": request.POST.get("name", ""),
            "players": ",".join(request.POST.getlist("players")),
            "sections": request.POST.getlist("sections"),
        }
        data = {
            "name": values["name"],
            "players": [value for value in request.POST.getlist("players") if value.strip()],
            "sections": values["sections"],
        }
        serializer = ReportCreateSerializer(data=data)
        if serializer.is_valid():
            try:
                report, _ = report_services.report_create(
                    owner=cast(User, request.user),
                    name=serializer.validated_data["name"],
                    player_ids=serializer.validated_data["players"],
                    sections=serializer.validated_data.get("sections"),
                )
            except ApplicationError as error:
                errors = {error.field or "form": [error.message]}
                status = error.status_code
            else:
                return redirect("web:report-page", report_id=report.pk)
        else:
            errors = {field: _error_messages(value) for field, value in serializer.errors.items()}
            status = 400
    chosen_ids = [int(value) for value in values["players"].split(",") if _whole(value.strip())]
    names = selectors.player_names(player_ids=chosen_ids)
    chosen = [{"id": pid, **names[pid]} for pid in chosen_ids if pid in names]
    context = {
        "errors": errors,
        "values": values,
        "chosen": chosen,
        "sections": [
            {
                "name": s.name,
                "label": SECTION_LABELS.get(s.name, s.name),
                "queue": s.queue,
                "help": s.description,
            }
            for s in REGISTRY
        ],
    }
    return render(request, "web/report_new.html", context, status=status)


# --- The report page, its pictures, retry, cancel and share management ---------------------------


def _page_context(request: HttpRequest, report: Report, *, link: ShareLink | None, token: str = "") -> dict:
    names = selectors.player_names(player_ids=report.player_ids)
    players = [
        {"id": pid, **names.get(pid, {"name": f"Player {pid}", "short_name": "", "role": ""})}
        for pid in report.player_ids
    ]
    if link is None:
        base = reverse("web:report-page", kwargs={"report_id": report.pk})
        config = {
            "shared": False,
            "statusUrl": reverse("report-detail", kwargs={"report_id": report.pk}),
            "dataUrl": reverse("report-data", kwargs={"report_id": report.pk}),
            "base": base,
            "playerUrl": reverse("web:player-page", kwargs={"player_id": 0}),
            "compareUrl": reverse("web:report-compare", kwargs={"report_id": report.pk}),
        }
        status = status_body(request, report)
    else:
        base = reverse("web:share-page", kwargs={"token": token})
        config = {"shared": True, "dataUrl": base + "data/", "base": base, "playerUrl": None}
        # The link's generation's state, fixed when it was made, not the report's current one.
        status = {"status": link.serves.get("status", ""), "generation": link.generation}
    config.update(
        {
            "players": players,
            "sections": [{"name": n, "label": SECTION_LABELS.get(n, n)} for n in report.sections],
            "status": status,
        }
    )
    return {"report": report, "link": link, "config": config, "players": players}


@login_required
@require_GET
def report_page(request: HttpRequest, report_id) -> HttpResponse:
    report = _visible_report(request, report_id)
    context = _page_context(request, report, link=None)
    context["shares"] = (
        list(selectors.shares_of_report(report=report)) if report.owner_id == request.user.pk else None
    )
    context["share_days"] = settings.WEB_SHARE_DEFAULT_DAYS
    context["share_max_days"] = settings.WEB_SHARE_MAX_DAYS
    return render(request, "web/report_page.html", context)


def _file_response(key: str, *, belongs: bool, headers: dict[str, str] | None = None) -> FileResponse:
    if not belongs:
        raise Http404("No such file in this report.")
    try:
        stored = default_storage.open(key, "rb")
    except (FileNotFoundError, OSError) as error:
        raise Http404("The file is no longer stored.") from error
    content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    response = FileResponse(stored, content_type=content_type)
    for name, value in (headers or OWNER_FILE_HEADERS).items():
        response[name] = value
    return response


def _pizza_response(key: str | None, *, headers: dict[str, str] | None = None) -> HttpResponse:
    if key is None:
        raise Http404("The percentiles of this player are not ready.")
    png = services.player_pizza_png(percentiles_key=key)
    if png is None:
        raise Http404("This player has no competition to be ranked in.")
    return HttpResponse(png, content_type="image/png", headers=headers or OWNER_FILE_HEADERS)


@login_required
@require_GET
def report_file(request: HttpRequest, report_id, key: str) -> FileResponse:
    report = _visible_report(request, report_id)
    return _file_response(key, belongs=selectors.report_file_belongs(report=report, key=key))


@login_required
@require_GET
def report_pizza(request: HttpRequest, report_id, player_id: int) -> HttpResponse:
    report = _visible_report(request, report_id)
    if player_id not in report.player_ids:
        raise Http404("No such player in this report.")
    return _pizza_response(
        selectors.report_partial_key(report=report, player_id=player_id, section="percentiles")
    )


def _report_action(request: HttpRequest, report_id, action, done: str) -> HttpResponse:
    """Run a service's action on a report the user may read, say how it went, and go back to its page."""
    report = _visible_report(request, report_id)
    try:
        action(report=report)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("web:report-page", report_id=report.pk)


@login_required
@require_POST
def report_retry(request: HttpRequest, report_id) -> HttpResponse:
    return _report_action(
        request, report_id, report_services.report_retry, "The failed sections are queued again."
    )


@login_required
@require_POST
def report_cancel(request: HttpRequest, report_id) -> HttpResponse:
    """The API's cancel (reports.fairshare.report_cancel), for whoever may read the report: its owner or staff."""
    return _report_action(
        request,
        report_id,
        fairshare.report_cancel,
        "The report is cancelled: sections not started will not run; what finished stays readable.",
    )


def _owned_report(request: HttpRequest, report_id) -> Report:
    """Share links are managed by the report's owner only (staff may read a report, not share it)."""
    report = _visible_report(request, report_id)
    if report.owner_id != request.user.pk:
        raise Http404("Only the report's owner manages its share links.")
    return report


@login_required
@require_POST
def share_create(request: HttpRequest, report_id) -> HttpResponse:
    report = _owned_report(request, report_id)
    days_text = request.POST.get("days", "").strip()
    if not _whole(days_text):
        return error_page(
            request,
            title="Cannot make the link",
            message=f"days: a whole number of days from 1 to {settings.WEB_SHARE_MAX_DAYS}, not {days_text!r}.",
            status=400,
        )
    try:
        link, token = services.share_create(
            report=report, created_by=cast(User, request.user), days=int(days_text)
        )
    except ApplicationError as error:
        prefix = f"{error.field}: " if error.field else ""
        return error_page(request, title="Cannot make the link", message=prefix + error.message, status=400)
    url = request.build_absolute_uri(reverse("web:share-page", kwargs={"token": token}))
    messages.success(
        request,
        f"Share link, valid until {link.expires_at:%Y-%m-%d %H:%M} UTC (copy it now, it is shown once): {url}",
        extra_tags="share-link",
    )
    return redirect(reverse("web:report-page", kwargs={"report_id": report.pk}) + "#share")


@login_required
@require_POST
def share_revoke(request: HttpRequest, report_id, link_id: int) -> HttpResponse:
    report = _owned_report(request, report_id)
    link = get_object_or_404(ShareLink, pk=link_id, report=report)
    services.share_revoke(link=link)
    messages.success(request, "The share link is revoked: it now answers 404.")
    return redirect(reverse("web:report-page", kwargs={"report_id": report.pk}) + "#share")


# --- Compare -------------------------------------------------------------------------


@login_required
@require_GET
def report_compare(request: HttpRequest, report_id) -> HttpResponse:
    report = _visible_report(request, report_id)
    try:
        player_ids = compare.parse_players(request.GET.get("players"), report=report)
    except ApplicationError as error:
        return error_page(request, title="Cannot compare these players", message=error.message, status=400)
    if report.ready_at is None:
        return error_page(
            request,
            title="Not ready yet",
            message="The report's first sections are still being built; compare when it is ready.",
            status=409,
        )
    document = orjson.loads(merge.report_data_read(report=report).body)
    context = {"report": report, **compare.comparison(document=document, player_ids=player_ids)}
    return render(request, "web/compare.html", context)


# --- A player's page (the target of a similar player's link) ---------------------------------------


@login_required
@require_GET
def player_page(request: HttpRequest, player_id: int) -> HttpResponse:
    player = player_selectors.player_get(player_id=player_id)
    if player is None:
        raise Http404("No such player.")
    seasons = player_selectors.player_seasons(player=player)
    return render(request, "web/player.html", {"player": player, "seasons": seasons})


# --- Share links, for anyone holding the token -------------------------------------------------


def _active_link(token: str) -> ShareLink:
    link = selectors.share_get_active(token=token)
    if link is None:
        raise Http404("No such share link, or it expired or was revoked.")
    return link


@require_GET
def share_page(request: HttpRequest, token: str) -> HttpResponse:
    link = _active_link(token)
    context = _page_context(request, link.report, link=link, token=token)
    response = render(request, "web/report_page.html", context)
    for name, value in SHARED_HEADERS.items():
        response.headers[name] = value
    return response


@require_GET
def share_data(request: HttpRequest, token: str) -> HttpResponse:
    link = _active_link(token)
    body = services.share_data_read(link=link)
    if body is None:
        raise Http404("This link's version of the report is no longer stored.")
    if "visuals" in link.report.sections:
        body = merge.sign_file_urls(
            body, file_url=lambda key: reverse("web:share-file", kwargs={"token": token, "key": key})
        )
    return HttpResponse(body, content_type="application/json", headers=SHARED_HEADERS)


@require_GET
def share_file(request: HttpRequest, token: str, key: str) -> FileResponse:
    # Only the pictures the link's own generation names (recorded when it was made).
    link = _active_link(token)
    return _file_response(key, belongs=key in link.serves.get("files", []), headers=SHARED_HEADERS)


@require_GET
def share_pizza(request: HttpRequest, token: str, player_id: int) -> HttpResponse:
    link = _active_link(token)
    return _pizza_response(link.serves.get("pizzas", {}).get(str(player_id)), headers=SHARED_HEADERS)
