"""Reports for the page tests, written as the pipeline writes them (report row, task records, partials)."""

from datetime import timedelta

import orjson
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from football.selectors import fitted_model_versions
from football.tests.factories import PlayerFactory
from reports.keys import partial_file_key
from reports.models import Partial, Report, ReportStatus, ReportTask, TaskState
from reports.sections import REGISTRY

ALL_SECTIONS = [section.name for section in REGISTRY]
QUEUE = {section.name: section.queue for section in REGISTRY}


def report_make(
    *, owner, players: int = 2, name: str = "Test report", finished: bool = True, player_ids=None
):
    """A report whose every section is `done` (finished) or `queued`; each done one with a stored partial.

    A done `visuals` partial lists one picture, stored beside it, as the section does.
    """
    if player_ids is None:
        player_ids = [PlayerFactory().id for _ in range(players)]
    now = timezone.now()
    total = {q: sum(1 for s in ALL_SECTIONS if QUEUE[s] == q) * len(player_ids) for q in ("fast", "slow")}
    report = Report.objects.create(
        owner=owner,
        name=name,
        player_ids=player_ids,
        sections=ALL_SECTIONS,
        data_version="test",
        # Pinned as report_create pins them, so a retry keeps the records' keys.
        model_versions=fitted_model_versions(),
        status=ReportStatus.COMPLETE if finished else ReportStatus.PENDING,
        fast_total=total["fast"],
        slow_total=total["slow"],
        fast_done=total["fast"] if finished else 0,
        slow_done=total["slow"] if finished else 0,
        ready_at=now if finished else None,
        completed_at=now if finished else None,
    )
    tasks = []
    for player_id in player_ids:
        for section in ALL_SECTIONS:
            key = f"reports/partials/{section}/v1/{player_id}/{report.pk.hex[:24]}.json"
            partial = None
            if finished:
                files = []
                content: dict = {"section": section, "version": 1}
                if section == "visuals":
                    picture = partial_file_key(key, "shot_map.png")
                    default_storage.save(
                        picture, ContentFile(b"\x89PNG\r\n\x1a\n-test-", name="shot_map.png")
                    )
                    files = [picture]
                    content["images"] = {"shot_map": picture}
                default_storage.save(key, ContentFile(orjson.dumps(content), name="partial.json"))
                partial = Partial.objects.create(key=key, section=section, player_id=player_id, files=files)
            tasks.append(
                ReportTask(
                    report=report,
                    player_id=player_id,
                    section=section,
                    queue=QUEUE[section],
                    state=TaskState.DONE if finished else TaskState.QUEUED,
                    partial_key=key,
                    partial=partial,
                    finished_at=now - timedelta(seconds=1) if finished else None,
                )
            )
    ReportTask.objects.bulk_create(tasks)
    return report
