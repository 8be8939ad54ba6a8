"""The API docs: drf-spectacular post-processing, and the ReDoc page kept on this host."""

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView


def empty_query_values_mean_absent(result, generator, request, public):
    """DRF reads an optional query parameter sent empty (`?role=`, `?page=`) as not sent,
    the way HTML forms submit an unset field: say so with `allowEmptyValue`."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
    return result


# Every resource of the docs pages from this host. ReDoc's bundle draws Redocly's
# logo from their CDN, unconditionally; on a closed network that request hangs
# or fails. The browser refuses it under this policy instead of sending it.
# Inline scripts and styles: the page's own Redoc.init() and ReDoc's styles;
# blob: its search worker; data: its inline icons.
OFFLINE_DOCS_CSP = "default-src 'self' 'unsafe-inline' data: blob:; img-src 'self' data:"


class OfflineRedocView(SpectacularRedocView):
    """ReDoc from drf-spectacular-sidecar's static files, with no request leaving the host."""

    template_name = "api/redoc.html"

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = OFFLINE_DOCS_CSP
        return response
