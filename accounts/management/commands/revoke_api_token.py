import getpass
import socket

from django.core.management.base import BaseCommand, CommandError

from accounts.models import ApiToken, AuditLogEntry
from accounts.services import revoke_token


class Command(BaseCommand):
    help = "Revoke an API token by its id or the prefix shown in lists (e.g. cpt_AbCdEfG)."

    def add_arguments(self, parser):
        parser.add_argument("token", help="Token id or prefix")

    def handle(self, *args, **options):
        value = options["token"]
        tokens = ApiToken.objects.filter(pk=int(value)) if value.isdigit() else ApiToken.objects.filter(prefix=value)
        if tokens.count() != 1:
            raise CommandError(f"{value!r} matches {tokens.count()} tokens; give the token's id")
        token = revoke_token(
            token=tokens.get(), via=AuditLogEntry.Via.CLI, actor_name=f"{getpass.getuser()}@{socket.gethostname()}"
        )
        self.stdout.write(f"Revoked token {token.pk} ({token.prefix}…) of {token.user.get_username()}.")
