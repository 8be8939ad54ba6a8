from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The library patches must still fit the pinned libraries, in the web process and every worker alike.
        from tasks.consumer import consumer_check
        from tasks.pool import autoscale_guard_check, guard_autoscale_race

        guard_autoscale_race()
        autoscale_guard_check()
        consumer_check()
