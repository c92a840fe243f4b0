from django.core.management.base import BaseCommand, CommandError

from audits.models import Release
from audits.services import withdraw_release


class Command(BaseCommand):
    help = "Withdraw a release; the previous accepted release becomes current."

    def add_arguments(self, parser):
        parser.add_argument("release", type=int, help="Release id")
        parser.add_argument("--reason", required=True)

    def handle(self, *args, **options):
        release = Release.objects.filter(pk=options["release"]).first()
        if release is None:
            raise CommandError(f"no release with id {options['release']}")
        withdraw_release(release=release, user=None, reason=options["reason"])
        current = Release.objects.current(release.audit_id)
        self.stdout.write(f"Withdrew {release}. Current: {current or 'none'}.")
