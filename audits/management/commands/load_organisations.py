from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audits.organisations import SEED_DIR, OrganisationFileError, load_organisations


class Command(BaseCommand):
    help = "Load or refresh NHS trusts, Cancer Alliances and predecessor codes from seed CSVs."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dir",
            type=Path,
            default=SEED_DIR,
            help="Folder with cancer_alliances.csv, trusts.csv and successors.csv "
            "(default: the copy shipped in audits/seed).",
        )

    def handle(self, *args, **options):
        try:
            summary = load_organisations(directory=options["dir"])
        except (OrganisationFileError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{summary.alliances} alliances, {summary.trusts} trusts "
            f"({summary.inactive} no longer listed, kept as inactive), "
            f"{summary.successors} predecessor codes."
        )
