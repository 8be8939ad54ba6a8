from django.apps import AppConfig


class FootballConfig(AppConfig):
    name = "football"
    default_auto_field = "django.db.models.BigAutoField"
