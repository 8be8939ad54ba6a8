from django.apps import AppConfig


class WebConfig(AppConfig):
    """The project's own pages for analysts: sign in, reports, the report page, compare, share links."""

    name = "web"
    default_auto_field = "django.db.models.BigAutoField"
