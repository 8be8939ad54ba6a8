from django.conf import settings
from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """`page` and `page_size`; a page size above the maximum is clamped to it."""

    page_size_query_param = "page_size"
    max_page_size = settings.MAX_PAGE_SIZE
