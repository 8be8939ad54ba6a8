"""The answer to a sign-in refused by django-axes: the sign-in page's own, or the API's error shape.

AXES_LOCKOUT_CALLABLE (config/settings/base.py). Both say when to try again
(Retry-After): each failure during a lockout starts its cool-off again.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def lockout_response(request: HttpRequest, original_response, credentials) -> HttpResponse:
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    minutes = max(1, round(seconds / 60))
    headers = {"Retry-After": str(seconds)}
    message = (
        f"Too many failed sign-ins for this username from this address: try again in {minutes} minutes,"
        " or ask an administrator to lift the lockout."
    )
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=429, headers=headers)
    response = render(request, "web/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = headers["Retry-After"]
    return response
