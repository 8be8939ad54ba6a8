from django.core.management.base import BaseCommand, CommandError

from tasks import tasks as job_tasks
from tasks.jobs import JOBS_BY_TASK, SCHEDULED_JOBS, job_period

TASKS = {job.name: getattr(job_tasks, job.task.removeprefix("tasks.")) for job in SCHEDULED_JOBS}


class Command(BaseCommand):
    help = (
        "Run one scheduled job now, in this process, under the same once-per-period claim as beat. "
        "A period already done is skipped: give another --period (e.g. 2026-11-28-manual) to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("job", choices=sorted(TASKS), help="the job's name, as in the admin")
        parser.add_argument("--period", help="the period key to claim (default: the current day or ISO week)")

    def handle(self, *args, job: str, period: str | None = None, **options):
        task = TASKS[job]
        if period is not None and not period.strip():
            raise CommandError("--period must not be empty")
        period = period or job_period(task.name)
        self.stdout.write(f"{job}: period {period} ({JOBS_BY_TASK[task.name].description})")
        outcome = task(period=period)
        if outcome["status"] == "skipped":
            self.stdout.write(f"skipped: period {period} is already claimed ({outcome['claimed_by']})")
        else:
            self.stdout.write(self.style.SUCCESS(f"done: {outcome['result']}"))
