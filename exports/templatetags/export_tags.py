"""`{% report_exports report as exports %}`: the panel's first list, rendered with the page (its script keeps it current)."""

from django import template

from reports.models import Report

from .. import selectors
from ..views import export_json

register = template.Library()


@register.simple_tag
def report_exports(report: Report) -> list[dict]:
    return [export_json(export, report) for export in selectors.exports_of_generation(report=report)]
