"""manage.py create_report: create a report exactly as the API does, and optionally wait for it (CONTRACT section 3)."""

import time

from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from football import selectors as football_selectors
from reports import merge, services
from reports.exceptions import ApplicationError
from reports.models import Report
from reports.sections import SECTIONS
from reports.summary import report_summary_lines

# How often --wait looks at the report's counters.
POLL_INTERVAL_S = 0.5
# How long --wait waits for the merged file after the last section ended.
MERGED_WAIT_S = 60
DEFAULT_OWNER = "cli"


class Command(BaseCommand):
    help = "Create a player report through the same service as the API; --wait shows progress until it ends."

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument(
            "--player", type=int, nargs="+", action="extend", metavar="ID", help="Wyscout player ids"
        )
        who.add_argument("--team", metavar="ID_OR_NAME", help="every player who appeared for this team")
        parser.add_argument(
            "--competition", type=int, metavar="ID", help="with --team: only this competition"
        )
        parser.add_argument(
            "--section", type=str, nargs="+", action="extend", metavar="NAME", help="default: all"
        )
        parser.add_argument("--name", default="", help="the report's name")
        parser.add_argument(
            "--owner", default=None, help=f"username (default: {DEFAULT_OWNER!r}, created if missing)"
        )
        parser.add_argument("--wait", action="store_true", help="show progress until every section has ended")
        parser.add_argument(
            "--timeout", type=float, default=3600, help="with --wait: give up after this many seconds"
        )

    def handle(self, *args, **options):
        if options["competition"] and not options["team"]:
            raise CommandError("--competition goes with --team")
        unknown = [name for name in options["section"] or [] if name not in SECTIONS]
        if unknown:
            raise CommandError(f"unknown sections: {', '.join(unknown)} (known: {', '.join(SECTIONS)})")
        owner = self._owner(options["owner"])
        player_ids = options["player"] or self._squad(options["team"], options["competition"])
        try:
            report, _ = services.report_create(
                owner=owner, player_ids=player_ids, name=options["name"], sections=options["section"]
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"report {report.pk}: {report.name} ({len(player_ids)} players, {len(report.sections)} sections)"
        )
        if not options["wait"]:
            return
        report = self._wait(report, timeout=options["timeout"])
        # The merged file is written by a worker shortly after the completion (the outbox).
        report = self._wait_merged(report, timeout=MERGED_WAIT_S)
        data = merge.report_data_read(report=report)
        if report.merged_key and report.merged_generation == report.generation:
            where = (
                default_storage.path(report.merged_key)
                if hasattr(default_storage, "path")
                else report.merged_key
            )
            self.stdout.write(f"merged report: {where}")
        for line in report_summary_lines(data.body):
            self.stdout.write(line)

    def _owner(self, username: str | None):
        users = get_user_model()
        if username:
            user = users.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"no user named {username!r}")
            return user
        user, created = users.objects.get_or_create(username=DEFAULT_OWNER)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        return user

    def _squad(self, team: str, competition_id: int | None) -> list[int]:
        try:
            found = football_selectors.team_find(team)
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        player_ids = football_selectors.squad_player_ids(team_id=found.pk, competition_id=competition_id)
        if not player_ids:
            raise CommandError(
                f"nobody appeared for {found.name}"
                + (f" in competition {competition_id}" if competition_id else "")
            )
        return player_ids

    def _wait_merged(self, report: Report, *, timeout: float) -> Report:
        deadline = time.monotonic() + timeout
        while report.merged_generation != report.generation and time.monotonic() < deadline:
            time.sleep(POLL_INTERVAL_S)
            report.refresh_from_db()
        return report

    def _wait(self, report: Report, *, timeout: float) -> Report:
        total = report.fast_total + report.slow_total
        deadline = time.monotonic() + timeout
        with tqdm(total=total, desc="sections", unit="section") as bar:
            while True:
                report.refresh_from_db()
                ended = report.fast_done + report.fast_failed + report.slow_done + report.slow_failed
                bar.n = ended
                bar.set_postfix_str(report.status)
                bar.refresh()
                if report.completed_at is not None:
                    return report
                if time.monotonic() > deadline:
                    raise CommandError(f"report {report.pk} still {report.status} after {timeout:.0f}s")
                time.sleep(POLL_INTERVAL_S)
