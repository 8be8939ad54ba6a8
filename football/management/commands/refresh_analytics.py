"""manage.py refresh_analytics [--force]: refit xG, xT and possession value on the loaded data, then rebuild the per-player aggregates."""

from django.core.management.base import BaseCommand, CommandError

from football.analytics import FitError, ModelNotFittedError
from football.analytics.refresh import refresh_analytics


class Command(BaseCommand):
    help = (
        "Fit the expected-goals model, the expected-threat grid and the possession-value model on the football "
        "events, then rebuild "
        "the per-player season aggregates (run after every import; also scheduled weekly)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="rebuild the aggregates even when the data and model versions are unchanged",
        )

    def handle(self, *args, force: bool = False, **options):
        try:
            result = refresh_analytics(stdout=self.stdout, force=force)
        except (FitError, ModelNotFittedError) as exc:
            raise CommandError(f"refresh failed, previous models and aggregates kept: {exc}") from None
        timings = ", ".join(f"{step} {seconds}s" for step, seconds in result.seconds.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"xG {result.xg_version[:12]}, xT {result.xt_version[:12]}, "
                f"aggregates {result.aggregates_version[:12]} ({result.aggregate_rows} rows); {timings}"
            )
        )
