"""What the service tests do again and again: reports of one section per player, their records, a run in process."""

from reports import runner, services
from reports.models import Report, ReportTask


def profiles(owner, player_ids: list[int]) -> Report:
    """A report of `profile` alone: one outstanding fast section per player."""
    report, _ = services.report_create(owner=owner, player_ids=player_ids, sections=["profile"])
    return report


def tasks_by_player(report: Report) -> dict[int, ReportTask]:
    return {task.player_id: task for task in ReportTask.objects.filter(report=report)}


def task_run(task: ReportTask) -> None:
    """The section as a worker runs it, in this process."""
    runner.report_task_run(report_task_id=task.pk)
