"""Answers for URLs that match no view, in the API's error shape instead of Django's HTML pages.

A client that sends `/api/players/abc/` or a report id that is not a UUID gets
`{"detail": "..."}` as JSON, like every other API error (CONTRACT section 4).
"""

from django.http import HttpRequest, JsonResponse


def not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    return JsonResponse({"detail": f"No such resource: {request.path}"}, status=404)
