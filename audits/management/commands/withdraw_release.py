from django.core.management.base import BaseCommand, CommandError

from accounts.services import Actor
from audits.models import Release
from audits.services import AlreadyWithdrawn, withdraw_release


class Command(BaseCommand):
    help = "Withdraw a release; the previous accepted release becomes current."

    def add_arguments(self, parser):
        parser.add_argument("release", type=int, help="Release id")
        parser.add_argument("--reason", required=True)

    def handle(self, *args, **options):
        release = Release.objects.filter(pk=options["release"]).first()
        if release is None:
            raise CommandError(f"no release with id {options['release']}")
        try:
            withdraw_release(release=release, actor=Actor.command_line(), reason=options["reason"])
        except AlreadyWithdrawn:
            pass  # withdrawn before: nothing changes, and the answer is the same
        current = Release.objects.current(release.audit_id)
        self.stdout.write(f"Withdrew {release}. Current: {current or 'none'}.")
