import getpass
import socket

from django.core.management.base import BaseCommand, CommandError

from accounts.models import AuditLogEntry
from accounts.services import record
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
        if not release.is_withdrawn:
            withdraw_release(release=release, user=None, reason=options["reason"])
            record(
                action=AuditLogEntry.Action.WITHDREW,
                actor_name=f"{getpass.getuser()}@{socket.gethostname()}",
                via=AuditLogEntry.Via.CLI,
                audit_code=release.audit_id,
                target=f"release {release.pk}",
                details={"version": release.version, "reason": options["reason"]},
            )
        current = Release.objects.current(release.audit_id)
        self.stdout.write(f"Withdrew {release}. Current: {current or 'none'}.")
