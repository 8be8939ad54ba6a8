from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """`page` and `page_size`; a page size above the maximum is clamped to it, one that is not a size is 400."""

    page_size_query_param = "page_size"
    max_page_size = settings.MAX_PAGE_SIZE
    page_size_query_description = (
        f"Results per page; at most {settings.MAX_PAGE_SIZE}, larger values are clamped."
    )
    # DRF's own message ("Invalid page.") does not say which page or why.
    invalid_page_message = "Invalid page {page_number!r}: {message}."

    def get_page_size(self, request):
        # DRF silently falls back to the default for `page_size=abc` or `-5`;
        # a client that sent one would not know its value was ignored.
        raw = request.query_params.get(self.page_size_query_param, "")
        if not raw:
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        f"{raw!r} is not a page size: a whole number from 1 is expected."
                    ]
                }
            )
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] in (self.page_query_param, self.page_size_query_param):
                parameter["schema"]["minimum"] = 1
        return parameters
