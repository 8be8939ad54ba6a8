from django.core.management.base import BaseCommand
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from tasks.jobs import SCHEDULED_JOBS, schedules_ensure


class Command(BaseCommand):
    help = (
        "Create the periodic tasks of the scheduled jobs (daily and weekly, UTC) for "
        "django-celery-beat. Idempotent; rows an operator edited are kept unless --reset."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true", help="put each job's schedule, queue and task back to the default"
        )

    def handle(self, *args, reset: bool = False, **options):
        outcome = dict(schedules_ensure(CrontabSchedule, PeriodicTask, reset=reset))
        rows = PeriodicTask.objects.select_related("crontab").in_bulk(
            [job.name for job in SCHEDULED_JOBS], field_name="name"
        )
        for job in SCHEDULED_JOBS:
            verb = "created" if outcome[job.name] else ("reset" if reset else "kept")
            row = rows[job.name]
            when = f"{row.crontab} " if row.crontab else ""
            state = "" if row.enabled else " (disabled)"
            self.stdout.write(f"{verb:8} {job.name:26} {row.task:34} {when}queue={row.queue}{state}")
