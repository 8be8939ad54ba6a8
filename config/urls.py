from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import health
from config.openapi import OfflineRedocView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", OfflineRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/", include("players.urls")),
    path("", include("reports.urls")),
    path("", include("exports.urls")),
    path("", include("web.urls")),
]

# JSON under /api/, the report pages' HTML page elsewhere (config.errors).
handler404 = "config.errors.not_found"
