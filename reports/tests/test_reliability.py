"""Issue 16 in one process: pinned model versions, the reconciler, the outbox, the storage audit, reuse checks.

The pipeline-level faults (workers killed, storage emptied, readers racing,
a publish failing after commit) are in test_faults.py with real workers;
these run the runner and the services here, against the run's database
(MariaDB on the production pass) and storage (moto S3 there).
"""

import io
import time
from datetime import timedelta

import orjson
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db.models import F
from django.utils import timezone

from football.analytics.pinned import pinned_models
from football.analytics.xg import save_fitted_model
from football.models import FittedModel
from football.selectors import current_fitted_model, data_version, fitted_model_versions
from reports import runner, services
from reports.audit import storage_audit
from reports.models import Outbox, OutboxKind, Partial, Report, ReportStatus, ReportTask, TaskState
from reports.sections import SECTIONS, SectionContext
from reports.storage import storage_existing

from .builders import small_league

# Not transactional: nothing is committed, so no on-commit run publishes a
# message that a later test's workers would find; the tests that need an
# on-commit run (deletions) execute them explicitly.
pytestmark = [pytest.mark.mysql, pytest.mark.django_db]


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create(username="reliability")


def run_all(report) -> None:
    for task in ReportTask.objects.filter(report=report).order_by("pk"):
        runner.report_task_run(report_task_id=task.pk)


def stored_content(key: str) -> dict:
    with default_storage.open(key, "rb") as stored:
        return orjson.loads(stored.read())


def test_a_refit_between_two_sections_of_one_report_leaves_both_on_the_pinned_model(owner):
    """The second section runs after a refit committed, and still computes with the model its key names."""
    league = small_league()
    first, second = league.player_ids[:2]
    report, _ = services.report_create(owner=owner, player_ids=[first, second], sections=["shot_map"])
    pinned = fitted_model_versions()
    assert report.model_versions == pinned and pinned["xg"]
    tasks = {t.player_id: t for t in ReportTask.objects.filter(report=report)}
    runner.report_task_run(report_task_id=tasks[first].pk)

    # A refit: other coefficients, which become the current model.
    old = current_fitted_model(FittedModel.Kind.EXPECTED_GOALS)
    parameters = {
        **old.parameters,
        "coefficients": {k: v * 1.5 for k, v in old.parameters["coefficients"].items()},
    }
    refit = save_fitted_model(kind="xg", parameters=parameters, metrics={}, data=data_version())
    assert fitted_model_versions()["xg"] == refit.version != pinned["xg"]

    runner.report_task_run(report_task_id=tasks[second].pk)

    context = SectionContext(player_id=second, data_version=report.data_version)
    with pinned_models(pinned):
        on_pinned = SECTIONS["shot_map"].compute(context)
    on_refit = SECTIONS["shot_map"].compute(context)
    stored = stored_content(tasks[second].partial_key)
    xg = [shot["xg"] for shot in stored["shots"]]
    assert xg and xg == [shot["xg"] for shot in on_pinned["shots"]]
    # The refit does change the figures: without the pin the section would have stored these.
    assert xg != [shot["xg"] for shot in on_refit["shots"]]
    report.refresh_from_db()
    assert report.status == ReportStatus.COMPLETE


def test_the_reconciler_recounts_a_report_whose_increment_was_lost(owner):
    league = small_league()
    report, _ = services.report_create(owner=owner, player_ids=league.player_ids[:2], sections=["profile"])
    tasks = list(ReportTask.objects.filter(report=report).order_by("pk"))
    runner.report_task_run(report_task_id=tasks[0].pk)
    runner.report_task_run(report_task_id=tasks[1].pk)
    # The second section's count lost (the fault of the old split commits): done, and the report open.
    Report.objects.filter(pk=report.pk).update(
        fast_done=F("fast_done") - 1, completed_at=None, ready_at=None, status=ReportStatus.RUNNING
    )
    Outbox.objects.all().delete()

    outcome = services.reports_reconcile()

    assert outcome["recounted"] == 1
    report.refresh_from_db()
    assert (report.fast_done, report.fast_failed) == (2, 0)
    assert report.completed_at is not None and report.status == ReportStatus.COMPLETE
    # Its follow-up, written with the recount: the merged file.
    assert Outbox.objects.filter(report_id=report.pk, kind=OutboxKind.WRITE_MERGED).count() == 1
    # Recounting again changes nothing.
    assert services.reports_reconcile()["recounted"] == 0


def test_the_reconciler_reclaims_only_sections_running_past_the_hard_time_limit(owner, settings):
    league = small_league()
    report, _ = services.report_create(owner=owner, player_ids=league.player_ids[:2], sections=["profile"])
    tasks = list(ReportTask.objects.filter(report=report).order_by("pk"))
    recent = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT - 10)
    stale = timezone.now() - timedelta(seconds=settings.REPORT_TASK_RECLAIM_AFTER_S + 1)
    ReportTask.objects.filter(pk=tasks[0].pk).update(state=TaskState.RUNNING, started_at=recent, attempts=1)
    ReportTask.objects.filter(pk=tasks[1].pk).update(state=TaskState.RUNNING, started_at=stale, attempts=1)
    Outbox.objects.all().delete()

    assert services.reports_reconcile()["reclaimed"] == 1
    assert ReportTask.objects.get(pk=tasks[0].pk).state == TaskState.RUNNING
    reclaimed = ReportTask.objects.get(pk=tasks[1].pk)
    assert reclaimed.state == TaskState.QUEUED and reclaimed.attempts == 1  # attempts kept
    assert Outbox.objects.filter(report_id=report.pk, kind=OutboxKind.PUBLISH).exists()

    # A delivery within the limit, of a record whose claimant is alive, does nothing.
    ReportTask.objects.filter(pk=tasks[0].pk).update(claimed_by=runner.claimant())
    assert runner.report_task_run(report_task_id=tasks[0].pk) is None
    assert ReportTask.objects.get(pk=tasks[0].pk).attempts == 1
    # Its claimant gone (a pid that is no process): taken over at once, one attempt more.
    ReportTask.objects.filter(pk=tasks[0].pk).update(claimed_by=f"{runner._HOST}:{2**22 + 12345}")
    runner.report_task_run(report_task_id=tasks[0].pk)
    taken = ReportTask.objects.get(pk=tasks[0].pk)
    assert taken.state == TaskState.DONE and taken.attempts == 2


def test_a_failing_outbox_row_stays_with_its_error_and_runs_again_when_due(owner, settings, monkeypatch):
    from reports import merge, outbox

    league = small_league()
    report, _ = services.report_create(owner=owner, player_ids=league.player_ids[:1], sections=["profile"])
    calls = []

    def storage_down(**kwargs):
        calls.append(kwargs)
        raise OSError("S3 refused the merged file")

    monkeypatch.setattr(merge, "merged_write", storage_down)
    run_all(report)
    row = Outbox.objects.get(report_id=report.pk, kind=OutboxKind.WRITE_MERGED)
    # The committer's run went to the slow queue; here no worker runs it: run it as the reconciler would.
    assert outbox.outbox_run(row_id=row.pk) is False
    row.refresh_from_db()
    assert "S3 refused" in row.error and row.attempts == 1 and row.claimed_until is None
    monkeypatch.undo()
    Outbox.objects.filter(pk=row.pk).update(due_at=timezone.now())
    assert outbox.outbox_drain() == 1
    assert not Outbox.objects.filter(pk=row.pk).exists()
    report.refresh_from_db()
    assert report.merged_generation == 1 and report.merge_count == 1
    assert default_storage.exists(report.merged_key)


def test_storage_audit_reports_both_ways_and_repairs(owner):
    league = small_league()
    report, _ = services.report_create(owner=owner, player_ids=league.player_ids[:2], sections=["profile"])
    run_all(report)
    tasks = list(ReportTask.objects.filter(report=report).order_by("pk"))
    # Files other tests of the session left in the same storage count as orphans too.
    before = storage_audit(grace_s=0)
    gone = tasks[0].partial_key
    default_storage.delete(gone)
    orphan = default_storage.save("reports/partials/profile/v1/0/orphan.json", ContentFile(b"{}"))

    out = io.StringIO()
    call_command("storage_audit", "--grace-seconds", "0", stdout=out)
    text = out.getvalue()
    assert f"partial rows whose object is gone: {before.missing_partials + 1}" in text
    assert f"objects no row names: {before.orphan_objects + 1}" in text
    assert default_storage.exists(orphan)  # only reported

    call_command("storage_audit", "--repair", "--grace-seconds", "0", stdout=io.StringIO())
    assert not default_storage.exists(orphan)
    assert Partial.objects.get(key=gone).missing_since is not None
    assert default_storage.exists(tasks[1].partial_key)
    # A new report of the same player computes the lost partial again instead of reusing it.
    again, _ = services.report_create(owner=owner, player_ids=[tasks[0].player_id], sections=["profile"])
    assert again.fast_reused == 0
    run_all(again)
    assert Partial.objects.get(key=gone).missing_since is None and default_storage.exists(gone)

    # Kept by the default grace: a section writes its file before its row.
    young = default_storage.save("reports/partials/profile/v1/0/young.json", ContentFile(b"{}"))
    call_command("storage_audit", "--repair", stdout=io.StringIO())
    assert default_storage.exists(young)

    with pytest.raises(CommandError):
        call_command("storage_audit", "--grace-seconds", "-1")
    with pytest.raises(CommandError):
        call_command("storage_audit", "--grace-seconds", "soon")


def test_storage_audit_repair_leaves_exports_and_other_apps_files_alone(owner):
    from exports.models import Export, ExportState

    league = small_league()
    report, _ = services.report_create(owner=owner, player_ids=league.player_ids[:1], sections=["profile"])
    run_all(report)
    export_file = default_storage.save(
        f"reports/exports/{report.pk.hex}/g1/1-1.csv", ContentFile(b"player_id\r\n", name="e.csv")
    )
    Export.objects.create(
        report=report, generation=1, format="csv", state=ExportState.DONE, storage_key=export_file
    )
    # Another app's file under reports/ that no row of this app names (a share copy).
    share = default_storage.save("reports/shares/abc/report.json", ContentFile(b"{}", name="s.json"))
    # A partial's file still is this audit's business.
    orphan = default_storage.save("reports/partials/profile/v1/0/orphan2.json", ContentFile(b"{}"))

    storage_audit(repair=True, grace_s=0)

    assert default_storage.exists(export_file) and default_storage.exists(share)
    assert not default_storage.exists(orphan)
    assert default_storage.exists(ReportTask.objects.get(report=report).partial_key)
    default_storage.delete(share)


def test_the_orphan_purge_keeps_a_key_another_record_still_computes(
    owner, django_user_model, django_capture_on_commit_callbacks
):
    league = small_league()
    player = league.player_ids[0]
    first, _ = services.report_create(owner=owner, player_ids=[player], sections=["profile"])
    run_all(first)
    key = ReportTask.objects.get(report=first).partial_key
    # A second report of the same inputs, created before the first's partial is reused... its record queued:
    other = django_user_model.objects.create(username="other")
    second = Report.objects.create(owner=other, name="b", player_ids=[player], sections=["profile"])
    ReportTask.objects.create(
        report=second, player_id=player, section="profile", queue="fast", partial_key=key
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.report_delete(report=first)

    # The partial is nobody's by foreign key, but the second report's record still computes it.
    assert Partial.objects.filter(key=key).exists() and default_storage.exists(key)
    ReportTask.objects.filter(report=second).delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.partials_delete_orphans() == 1
    assert not default_storage.exists(key)


def test_delete_removes_every_generations_merged_file(owner, django_capture_on_commit_callbacks):
    from reports import merge

    league = small_league()
    report, _ = services.report_create(owner=owner, player_ids=league.player_ids[:1], sections=["profile"])
    run_all(report)
    keys = []
    for generation in (1, 2):
        Report.objects.filter(pk=report.pk).update(generation=generation)
        merge.merged_write(report_id=report.pk, generation=generation)
        keys.append(Report.objects.get(pk=report.pk).merged_key)
    # Writing generation 2 deleted generation 1's file.
    assert not default_storage.exists(keys[0]) and default_storage.exists(keys[1])
    default_storage.save(keys[0], ContentFile(b"{}"))  # left behind, say, by a failed delete

    with django_capture_on_commit_callbacks(execute=True):
        services.report_delete(report=Report.objects.get(pk=report.pk))
    assert not any(default_storage.exists(key) for key in keys)
    assert not Outbox.objects.filter(kind=OutboxKind.DELETE_FILES).exists()  # done, so deleted


def test_reuse_at_creation_checks_objects_in_bulk_at_bounded_cost(owner, capsys, settings):
    """25 players x 9 sections: the existence check of their 225 keys, all and the sample that creation checks.

    The figures printed are those of docs/reliability.md.
    """
    keys = [f"reports/partials/profile/v1/{n}/{'a' * 24}.json" for n in range(225)]
    for key in keys[::2]:
        default_storage.save(key, ContentFile(b"{}"))
    timings = {}
    for label, subset in (("all 225", keys), ("the sample", keys[: settings.REPORT_REUSE_CHECK_SAMPLE])):
        started = time.perf_counter()
        present = storage_existing(subset)
        timings[label] = time.perf_counter() - started
        assert present == set(subset[::2])
    with capsys.disabled():
        backend = type(default_storage._wrapped).__name__
        print(
            f"\nexistence check on {backend}: "
            + ", ".join(f"{label} {seconds * 1000:.0f} ms" for label, seconds in timings.items())
        )
    assert timings["all 225"] < 10


def test_a_bucket_emptied_is_seen_by_the_sample_and_nothing_gone_is_reused(owner):
    league = small_league()
    players = league.player_ids[:2]
    first, _ = services.report_create(owner=owner, player_ids=players, sections=["profile", "heatmap"])
    run_all(first)
    kept = ReportTask.objects.filter(report=first, section="profile", player_id=players[0]).get().partial_key
    for task in ReportTask.objects.filter(report=first).exclude(partial_key=kept):
        default_storage.delete(task.partial_key)

    second, _ = services.report_create(owner=owner, player_ids=players, sections=["profile", "heatmap"])

    assert second.fast_reused == 1  # the one partial still stored
    reused = ReportTask.objects.get(report=second, reused=True)
    assert reused.partial_key == kept
    assert Partial.objects.filter(missing_since__isnull=False).count() == 3


def test_a_section_whose_dependencys_partial_is_gone_queues_both_again(owner):
    league = small_league()
    player = league.player_ids[0]
    report, _ = services.report_create(owner=owner, player_ids=[player], sections=["shot_map", "visuals"])
    shot_map = ReportTask.objects.get(report=report, section="shot_map")
    visuals = ReportTask.objects.get(report=report, section="visuals")
    runner.report_task_run(report_task_id=shot_map.pk)
    default_storage.delete(shot_map.partial_key)

    assert (
        runner.report_task_run(report_task_id=visuals.pk) is None
    )  # standalone: reads shot_map from storage

    states = dict(ReportTask.objects.filter(report=report).values_list("section", "state"))
    assert states == {"shot_map": TaskState.QUEUED, "visuals": TaskState.QUEUED}
    report.refresh_from_db()
    assert (report.fast_done, report.slow_done, report.slow_failed) == (0, 0, 0)
    assert Outbox.objects.filter(report_id=report.pk, kind=OutboxKind.PUBLISH).exists()
    runner.report_task_run(report_task_id=shot_map.pk)
    runner.report_task_run(report_task_id=visuals.pk)
    report.refresh_from_db()
    assert report.status == ReportStatus.COMPLETE and (report.fast_done, report.slow_done) == (1, 1)


def test_aggregates_refreshed_while_a_section_ranks_on_them_fail_it_with_a_clear_error(owner, monkeypatch):
    """The aggregates cannot be loaded by version (one table): a refresh during the run is caught after computing."""
    league = small_league()
    report, _ = services.report_create(
        owner=owner, player_ids=league.player_ids[:1], sections=["percentiles"]
    )
    task = ReportTask.objects.get(report=report)
    section = SECTIONS["percentiles"]

    def compute_while_the_aggregates_are_refreshed(context):
        content = section.compute(context)
        current = current_fitted_model(FittedModel.Kind.AGGREGATES)
        FittedModel.objects.create(
            kind=current.kind,
            version="refreshed-" + current.version[:20],
            data_version=current.data_version,
            parameters=current.parameters,
            metrics={},
        )
        return content

    import dataclasses

    monkeypatch.setitem(
        SECTIONS,
        "percentiles",
        dataclasses.replace(section, compute=compute_while_the_aggregates_are_refreshed),
    )
    runner.report_task_run(report_task_id=task.pk)

    task.refresh_from_db()
    assert task.state == TaskState.FAILED and task.error == runner.AGGREGATES_CHANGED
    assert not Partial.objects.filter(key=task.partial_key).exists()
    assert not default_storage.exists(task.partial_key)

    # The analyst retries: the section runs on the aggregates fitted now, under a key naming them.
    monkeypatch.setitem(SECTIONS, "percentiles", section)
    old_key = task.partial_key
    services.report_retry(report=report)
    report.refresh_from_db()
    task.refresh_from_db()
    assert report.model_versions == fitted_model_versions()
    assert report.model_versions["agg"].startswith("refreshed-")
    assert task.state == TaskState.QUEUED and task.partial_key != old_key
    runner.report_task_run(report_task_id=task.pk)
    task.refresh_from_db()
    report.refresh_from_db()
    assert task.state == TaskState.DONE and report.status == ReportStatus.COMPLETE


def test_a_retry_while_sections_are_outstanding_keeps_the_pinned_models(owner):
    """Re-pinning then would give the sections still running a model their keys do not name."""
    league = small_league()
    first, second = league.player_ids[:2]
    report, _ = services.report_create(owner=owner, player_ids=[first, second], sections=["shot_map"])
    pinned = report.model_versions
    tasks = {t.player_id: t for t in ReportTask.objects.filter(report=report)}
    # The first section failed for good (its counter with it); the second is still queued.
    ReportTask.objects.filter(pk=tasks[first].pk).update(state=TaskState.FAILED, error="boom")
    Report.objects.filter(pk=report.pk).update(fast_failed=1)
    old = current_fitted_model(FittedModel.Kind.EXPECTED_GOALS)
    save_fitted_model(kind="xg", parameters=old.parameters | {"refit": 1}, metrics={}, data=data_version())
    assert fitted_model_versions()["xg"] != pinned["xg"]

    services.report_retry(report=report)
    report.refresh_from_db()
    assert report.model_versions == pinned
    assert ReportTask.objects.get(pk=tasks[first].pk).partial_key == tasks[first].partial_key


def test_a_refused_delivery_stops_its_chain_and_a_done_one_carries_it_on(owner):
    """The adapter: a delivery whose record a live process holds must not run the chained `visuals` without upstream."""
    from celery.exceptions import Ignore

    from reports import tasks as report_tasks

    league = small_league()
    report, _ = services.report_create(
        owner=owner, player_ids=league.player_ids[:1], sections=["shot_map", "visuals"]
    )
    shot_map = ReportTask.objects.get(report=report, section="shot_map")
    ReportTask.objects.filter(pk=shot_map.pk).update(
        state=TaskState.RUNNING, started_at=timezone.now(), attempts=1, claimed_by=runner.claimant()
    )
    with pytest.raises(Ignore):
        report_tasks._run(None, shot_map.pk)
    assert ReportTask.objects.get(pk=shot_map.pk).attempts == 1

    # Ended done (its worker died after the commit, before the chain went on): the chain goes on with the partial.
    ReportTask.objects.filter(pk=shot_map.pk).update(state=TaskState.QUEUED)
    runner.report_task_run(report_task_id=shot_map.pk)
    assert report_tasks._run(None, shot_map.pk) == {"partial_key": shot_map.partial_key}


def test_a_parent_requeued_by_the_reconciler_takes_its_queued_dependent_along(owner, settings):
    league = small_league()
    report, _ = services.report_create(
        owner=owner, player_ids=league.player_ids[:1], sections=["shot_map", "visuals"]
    )
    stale = timezone.now() - timedelta(seconds=settings.REPORT_TASK_RECLAIM_AFTER_S + 1)
    ReportTask.objects.filter(report=report).update(dispatched_at=stale)
    ReportTask.objects.filter(report=report, section="shot_map").update(
        state=TaskState.RUNNING, started_at=stale, attempts=1
    )
    Outbox.objects.all().delete()

    assert services.reports_reconcile()["reclaimed"] == 1
    records = {t.section: t for t in ReportTask.objects.filter(report=report)}
    assert records["shot_map"].state == TaskState.QUEUED and records["shot_map"].dispatched_at is None
    # Its chained dependent is published again with it, not left marked dispatched with no message.
    assert records["visuals"].state == TaskState.QUEUED and records["visuals"].dispatched_at is None


def test_a_parent_requeued_by_a_heal_takes_its_queued_dependent_along(owner):
    from reports.healing import report_partials_missing

    league = small_league()
    report, _ = services.report_create(
        owner=owner, player_ids=league.player_ids[:1], sections=["shot_map", "visuals"]
    )
    shot_map = ReportTask.objects.get(report=report, section="shot_map")
    runner.report_task_run(report_task_id=shot_map.pk)
    ReportTask.objects.filter(report=report, section="visuals").update(dispatched_at=timezone.now())
    report.refresh_from_db()

    assert report_partials_missing(
        report_id=report.pk, generation=report.generation, keys=[shot_map.partial_key]
    )
    visuals = ReportTask.objects.get(report=report, section="visuals")
    assert visuals.state == TaskState.QUEUED and visuals.dispatched_at is None


def test_a_dependent_whose_parent_was_just_requeued_retries_instead_of_failing(owner, settings):
    league = small_league()
    report, _ = services.report_create(
        owner=owner, player_ids=league.player_ids[:1], sections=["shot_map", "visuals"]
    )
    shot_map = ReportTask.objects.get(report=report, section="shot_map")
    visuals = ReportTask.objects.get(report=report, section="visuals")
    # shot_map queued again (a heal) when visuals' message, published on its own, is consumed.
    with pytest.raises(runner.TransientError):
        runner.report_task_run(report_task_id=visuals.pk)
    visuals.refresh_from_db()
    assert visuals.state == TaskState.RETRYING and "shot_map" in visuals.error

    runner.report_task_run(report_task_id=shot_map.pk)
    runner.report_task_run(report_task_id=visuals.pk)
    visuals.refresh_from_db()
    assert visuals.state == TaskState.DONE and visuals.attempts == 2
    report.refresh_from_db()
    assert report.status == ReportStatus.COMPLETE

    # Bounded: a parent that never ends fails the dependent on the last attempt.
    again, _ = services.report_create(
        owner=owner, player_ids=league.player_ids[1:2], sections=["shot_map", "visuals"]
    )
    waiting = ReportTask.objects.get(report=again, section="visuals")
    ReportTask.objects.filter(pk=waiting.pk).update(attempts=settings.REPORT_TASK_MAX_ATTEMPTS - 1)
    assert runner.report_task_run(report_task_id=waiting.pk) is None
    waiting.refresh_from_db()
    assert (
        waiting.state == TaskState.FAILED and waiting.error == "depends on shot_map, which has not finished"
    )


def test_a_reusable_partial_purged_during_creation_is_computed_again_not_a_500(owner, monkeypatch):
    league = small_league()
    player = league.player_ids[0]
    first, _ = services.report_create(owner=owner, player_ids=[player], sections=["profile"])
    run_all(first)
    # Its partial an orphan, as when its report was deleted with its file kept for a while.
    ReportTask.objects.filter(report=first).update(partial=None)
    chosen = services._stored_partials

    def read_then_purged(keys):
        rows = chosen(keys)
        assert rows  # chosen for reuse ...
        services.partials_delete_orphans()  # ... and purged before the creation's transaction
        return rows

    monkeypatch.setattr(services, "_stored_partials", read_then_purged)
    second, _ = services.report_create(owner=owner, player_ids=[player], sections=["profile"])

    assert second.fast_reused == 0
    task = ReportTask.objects.get(report=second)
    assert task.state == TaskState.QUEUED and task.partial_id is None
    runner.report_task_run(report_task_id=task.pk)
    second.refresh_from_db()
    assert second.status == ReportStatus.COMPLETE


def test_the_reconciler_leaves_records_a_pending_publish_or_dispatch_task_will_send(owner, settings):
    league = small_league()
    report, _ = services.report_create(owner=owner, player_ids=league.player_ids[:2], sections=["profile"])
    # Not committed here, so its publish row was never run: it is the pending publish.
    assert Outbox.objects.filter(report_id=report.pk, kind=OutboxKind.PUBLISH).count() == 1
    soon = timezone.now() + timedelta(minutes=2)
    # A dispatch task waiting minutes behind a backed-up queue: its records are not lost yet.
    assert services.reports_reconcile(now=soon)["reclaimed"] == 0
    late = timezone.now() + timedelta(seconds=settings.REPORT_UNDISPATCHED_GRACE_S + 60)
    for _ in range(2):
        assert services.reports_reconcile(now=late)["reclaimed"] == 2
    # Still one publish row: it publishes every undispatched record of the report.
    assert Outbox.objects.filter(report_id=report.pk, kind=OutboxKind.PUBLISH).count() == 1


def test_two_dispatches_of_one_report_do_not_run_at_once(owner, monkeypatch):
    from django.db import connection, connections

    from reports import dispatch

    if connection.vendor != "mysql":
        pytest.skip("the dispatch lock is MySQL's GET_LOCK; there is none on SQLite")
    league = small_league()
    report, _ = services.report_create(owner=owner, player_ids=league.player_ids[:1], sections=["profile"])
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:  # another process's dispatch of the same report, under way
            cursor.execute("SELECT GET_LOCK(%s, 0)", [f"reports.dispatch:{report.pk.hex}"])
        monkeypatch.setattr(dispatch, "DISPATCH_LOCK_WAIT_S", 1)
        with pytest.raises(TimeoutError):
            dispatch.report_dispatch(report_id=report.pk)
        assert ReportTask.objects.filter(report=report, dispatched_at__isnull=True).count() == 1
    finally:
        other.close()


def test_a_retry_takes_over_the_record_its_attempt_could_not_mark_retrying(owner, monkeypatch):
    """A database blip: the end fails, marking the record retrying fails too; the retry must not wait 390 s."""
    from django.db import OperationalError

    league = small_league()
    report, _ = services.report_create(owner=owner, player_ids=league.player_ids[:1], sections=["profile"])
    task = ReportTask.objects.get(report=report)

    def finish_on_a_dead_connection(*args, **kwargs):
        raise OperationalError(2013, "Lost connection to server during query")

    monkeypatch.setattr(runner, "_finish", finish_on_a_dead_connection)
    # Its update failed and was swallowed; the test's own connection is not closed.
    monkeypatch.setattr(runner, "_mark_retrying", lambda task, exc: None)
    monkeypatch.setattr(runner.connections, "close_all", lambda: None)
    with pytest.raises(runner.TransientError) as failed:
        runner.report_task_run(report_task_id=task.pk)
    monkeypatch.undo()
    task.refresh_from_db()
    assert (
        task.state == TaskState.RUNNING and task.claimed_by == runner.claimant()
    )  # a live claimant: this process

    # Another delivery is still refused: the record looks held.
    assert runner.report_task_run(report_task_id=task.pk) is None
    # The retry, with the failed attempt's claim, takes it over at once.
    runner.report_task_run(report_task_id=task.pk, retry_of=failed.value.claim)
    task.refresh_from_db()
    assert task.state == TaskState.DONE and task.attempts == 2
    # A stale claim (another attempt since) takes nothing over.
    assert failed.value.claim == {"claimed_by": runner.claimant(), "attempts": 1}


def test_a_late_file_deletion_spares_a_partial_computed_again_since(owner):
    from reports import outbox

    league = small_league()
    player = league.player_ids[0]
    first, _ = services.report_create(owner=owner, player_ids=[player], sections=["profile"])
    run_all(first)
    key = ReportTask.objects.get(report=first).partial_key
    ReportTask.objects.filter(report=first).update(partial=None)  # an orphan, as after its report's deletion
    assert services.partials_delete_orphans() == 1
    deletion = Outbox.objects.get(kind=OutboxKind.DELETE_FILES)
    assert key in deletion.payload["keys"]
    # Before the deletion runs (its committer died), a new report computes the same key again.
    second, _ = services.report_create(owner=owner, player_ids=[player], sections=["profile"])
    assert second.fast_reused == 0
    run_all(second)

    assert outbox.outbox_run(row_id=deletion.pk) is True
    assert default_storage.exists(key)
    assert Partial.objects.get(key=key).writes == 1
