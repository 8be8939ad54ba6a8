"""The project's URLs plus a stand-in for the report page, which includes the exports panel as it will."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template import RequestContext, Template
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns
from reports.selectors import reports_visible_to

HOST_PAGE = Template(
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ report.name }}</title></head>'
    '<body><h1>{{ report.name }}</h1>{% include "exports/panel.html" %}</body></html>'
)


def report_page(request, report_id):
    report = get_object_or_404(reports_visible_to(request.user), pk=report_id)
    return HttpResponse(HOST_PAGE.render(RequestContext(request, {"report": report})))


urlpatterns = [path("reports/<uuid:report_id>/", report_page), *project_urlpatterns]
