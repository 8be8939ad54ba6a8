"""Answers for URLs that match no view: JSON in the API's error shape under `/api/`, an HTML page elsewhere.

A client that sends `/api/players/abc/` or a report id that is not a UUID gets
`{"detail": "..."}` as JSON, like every other API error (CONTRACT section 4).
A person on the report pages (web) gets a readable page instead.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"No such resource: {request.path}"}, status=404)
    return render(
        request,
        "web/error.html",
        {"title": "Not found", "message": "There is no such page, or it is not yours to see."},
        status=404,
    )
