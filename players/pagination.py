from django.conf import settings
from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """`page` and `page_size`; a page size above the maximum is clamped to it."""

    page_size_query_param = "page_size"
    max_page_size = settings.MAX_PAGE_SIZE
    page_size_query_description = (
        f"Results per page; at most {settings.MAX_PAGE_SIZE}, larger values are clamped."
    )
    # DRF's own message ("Invalid page.") does not say which page or why.
    invalid_page_message = "Invalid page {page_number!r}: {message}."
