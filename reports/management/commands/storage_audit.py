from django.core.management.base import BaseCommand, CommandError

from reports.audit import storage_audit


class Command(BaseCommand):
    help = (
        "Compare report files in storage with their database rows both ways and print the counts: rows whose "
        "object is gone, and objects no row names. With --repair, mark the missing partials (their sections "
        "are computed again when read), have missing merged files written again, and delete the orphans."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--repair", action="store_true", help="repair what is found (default: report only)"
        )
        parser.add_argument(
            "--grace-seconds",
            type=int,
            default=None,
            help="orphans younger than this are kept (default REPORT_STORAGE_AUDIT_GRACE_S)",
        )

    def handle(self, *args, repair: bool = False, grace_seconds: int | None = None, **options):
        if grace_seconds is not None and grace_seconds < 0:
            raise CommandError("--grace-seconds must be 0 or more")
        result = storage_audit(repair=repair, grace_s=grace_seconds)
        self.stdout.write(f"objects under reports/partials/ and reports/merged/: {result.objects}")
        self.stdout.write(f"partial rows: {result.partial_rows}")
        self.stdout.write(f"partial rows whose object is gone: {result.missing_partials}")
        self.stdout.write(f"merged files gone: {result.missing_merged}")
        self.stdout.write(f"objects no row names: {result.orphan_objects}")
        for key in result.orphans_sample:
            self.stdout.write(f"  {key}")
        if repair:
            self.stdout.write(self.style.SUCCESS("repaired"))
        elif result.missing_partials or result.missing_merged or result.orphan_objects:
            self.stdout.write("run again with --repair to repair")
