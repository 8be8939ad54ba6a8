from django.urls import path

from . import apis

urlpatterns = [
    path("api/reports/", apis.ReportListCreateApi.as_view(), name="report-list"),
    path("create-report", apis.CreateReportApi.as_view(), name="create-report"),
    path("api/reports/<uuid:report_id>/", apis.ReportDetailApi.as_view(), name="report-detail"),
    path("api/reports/<uuid:report_id>/data/", apis.ReportDataApi.as_view(), name="report-data"),
    path("api/reports/<uuid:report_id>/retry/", apis.ReportRetryApi.as_view(), name="report-retry"),
    path("api/reports/<uuid:report_id>/cancel/", apis.ReportCancelApi.as_view(), name="report-cancel"),
]
