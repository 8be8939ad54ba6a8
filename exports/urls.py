from django.urls import path

from . import views

urlpatterns = [
    path("reports/<uuid:report_id>/exports/", views.report_exports, name="report-exports"),
    *(
        path(
            f"reports/<uuid:report_id>/export.{export_format}",
            views.report_export_download,
            {"export_format": export_format},
            name=f"report-export-{export_format}",
        )
        for export_format in ("pdf", "csv", "xlsx")
    ),
]
