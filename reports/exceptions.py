"""The one exception type for expected application errors, and the DRF handler that answers it."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ApplicationError(Exception):
    """An expected failure a client can act on: answered in DRF's error shape, never a 500."""

    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(
        self, message: str, *, field: str | None = None, status_code: int | None = None, headers=None
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = headers or {}
        if status_code is not None:
            self.status_code = status_code

    def as_data(self) -> dict:
        if self.field:
            return {self.field: [self.message]}
        return {"detail": self.message}


class ServiceUnavailable(ApplicationError):
    status_code: int = status.HTTP_503_SERVICE_UNAVAILABLE


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response(exc.as_data(), status=exc.status_code, headers=exc.headers)
    if isinstance(exc, RequestDataTooBig):
        # Django raises this when a view reads a body over DATA_UPLOAD_MAX_MEMORY_SIZE;
        # left alone it becomes an HTML 400 page logged as a security error.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            {"detail": f"The request body is larger than the limit of {limit} bytes."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    return exception_handler(exc, context)
