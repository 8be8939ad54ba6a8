"""manage.py import_events --provider P FILE ...: other providers' match files through kloppy (CONTRACT §12).

The files of each match follow one another in the order kloppy's loader takes them:

    statsbomb   EVENTS.json LINEUP.json        (open-data events/<id>.json, lineups/<id>.json)
    opta        F24.xml F7.xml                 (events, then lineups and result)
    sportec     EVENTS.xml MATCH_INFO.xml      (DFL event feed, then match information)
    wyscout_v2  EVENTS.json                    (one API v2 match file: events, teams, players)
    wyscout_v3  EVENTS.json                    (one API v3 match file)

so `--provider statsbomb a_events.json a_lineup.json b_events.json b_lineup.json` imports two matches.
"""

import datetime as dt
import logging
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from football.importer.kloppy_import import FILE_NAMES, FILES_PER_MATCH, PROVIDERS, kloppy_import
from football.importer.sources import SourceError


class Command(BaseCommand):
    help = "Import StatsBomb, Opta, Sportec or Wyscout v2/v3 match files through kloppy."

    def add_arguments(self, parser):
        parser.add_argument("--provider", required=True, choices=PROVIDERS)
        parser.add_argument(
            "paths",
            type=Path,
            nargs="+",
            metavar="FILE",
            help="the files of each match in turn (statsbomb: events lineup; opta: f24 f7; "
            "sportec: events meta; wyscout_v2/v3: events)",
        )
        parser.add_argument(
            "--competition", help="competition name for these matches (default: '<Provider> import')"
        )
        parser.add_argument("--season", help="season name, e.g. 2018/19 (default: the year of the match)")
        parser.add_argument(
            "--date",
            type=dt.date.fromisoformat,
            help="match date YYYY-MM-DD, for feeds that carry none (StatsBomb, Opta F24 without F7 date)",
        )
        parser.add_argument(
            "--no-analytics",
            action="store_true",
            help="do not refit xG/xT and refresh the per-player aggregates after a changed import",
        )

    def handle(self, *args, provider, paths, competition, season, date, no_analytics, **options):
        # kloppy logs a timing line per file at INFO: the progress bars say enough.
        logging.getLogger("kloppy").setLevel(logging.WARNING)
        per_match = FILES_PER_MATCH[provider]
        if len(paths) % per_match:
            raise CommandError(
                f"{provider} takes {per_match} files per match ({' then '.join(FILE_NAMES[provider])}); "
                f"got {len(paths)}"
            )
        matches = [paths[i : i + per_match] for i in range(0, len(paths), per_match)]
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int, total: int) -> None:
            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(
                    total=total, desc=stage, unit="match", mininterval=0.5 if sys.stderr.isatty() else 15
                )
            bar.update(done - bar.n)

        try:
            result = kloppy_import(
                provider=provider,
                matches=matches,
                competition=competition,
                season=season,
                date=date,
                progress=progress,
            )
        except SourceError as exc:
            raise CommandError(f"import failed, database unchanged: {exc}") from None
        finally:
            for bar in bars.values():
                bar.close()
        c = result.counts
        self.stdout.write(
            f"{provider}: {c['matches']} matches, {c['teams']} teams, {c['players']} players, "
            f"{c['appearances']} appearances, {c['events']} events"
        )
        if result.unchanged:
            self.stdout.write(
                "unchanged, skipped (same content hash): " + ", ".join(map(str, result.unchanged))
            )
        if result.written:
            self.stdout.write("written: " + ", ".join(map(str, result.written)))
            if not no_analytics:
                from football.analytics import FitError
                from football.analytics.refresh import refresh_analytics

                try:
                    refresh_analytics(stdout=self.stdout)
                except FitError as exc:
                    self.stderr.write(f"analytics not refreshed: {exc}")
        self.stdout.write(f"data version {result.version}")
