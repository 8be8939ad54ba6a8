"""manage.py import_wyscout PATH [--competition ID ...]: load the Wyscout public data set (CONTRACT section 3)."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from football.importer.services import wyscout_import
from football.importer.sources import SourceError

CREDIT = (
    "Data: Pappalardo et al., A public data set of spatio-temporal match events in soccer competitions, "
    "Scientific Data 6, 236 (2019); figshare doi:10.6084/m9.figshare.c.4415000; CC BY 4.0."
)


class Command(BaseCommand):
    help = "Import the Wyscout public data set from a folder or a .tar.xz/.zip archive, in either layout."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="folder, .tar.xz or .zip holding the data set")
        parser.add_argument(
            "--competition",
            type=int,
            nargs="+",
            action="extend",
            metavar="ID",
            help="import only these competitions (Wyscout competitionId), with their teams and players",
        )
        parser.add_argument(
            "--no-analytics",
            action="store_true",
            help="do not refit xG/xT and refresh the per-player aggregates after a changed import",
        )

    def handle(self, *args, path: Path, competition=None, no_analytics=False, **options):
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int, total: int) -> None:
            bar = bars.get(stage)
            if bar is None:
                # Redrawn often on a terminal; in a log file, a line every 15 s is enough.
                bar = bars[stage] = tqdm(
                    total=total,
                    desc=stage,
                    unit="match",
                    leave=True,
                    mininterval=0.5 if sys.stderr.isatty() else 15,
                )
            bar.update(done - bar.n)

        try:
            result = wyscout_import(path=path, competition_ids=competition, progress=progress)
        except SourceError as exc:
            raise CommandError(f"import failed, database unchanged: {exc}") from None
        finally:
            for bar in bars.values():
                bar.close()

        counts = result.counts
        self.stdout.write(
            f"{counts['competitions']} competitions, {counts['teams']} teams, {counts['players']} players, "
            f"{counts['matches']} matches, {counts['appearances']} appearances, {counts['events']} events "
            f"(layout {result.layout})"
        )
        if result.unchanged:
            self.stdout.write(
                "unchanged, skipped (same content hash): " + ", ".join(map(str, result.unchanged))
            )
        if result.written:
            self.stdout.write("written: " + ", ".join(map(str, result.written)))
            if not no_analytics:
                self._refresh_analytics()
        self.stdout.write(f"data version {result.version}")
        self.stdout.write(CREDIT)

    def _refresh_analytics(self) -> None:
        """The slow sections rank and value players on models and aggregates fitted to this data."""
        from football.analytics import FitError
        from football.analytics.refresh import refresh_analytics

        try:
            refresh_analytics(stdout=self.stdout)
        except FitError as exc:
            # Too little data to fit (a tiny subset): the import stands, the slow sections will say so.
            self.stderr.write(f"analytics not refreshed: {exc}")
