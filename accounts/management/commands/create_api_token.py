from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.models import AuditLogEntry
from accounts.services import create_token


class Command(BaseCommand):
    help = "Create a personal API token for a user and print its key (shown this once; only a hash is kept)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="What the key is for, e.g. 'nightly pipeline'")

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user called {options['username']!r}")
        token, key = create_token(user=user, name=options["name"], via=AuditLogEntry.Via.CLI)
        self.stderr.write(
            f"Token {token.pk} ({token.prefix}…) for {user.get_username()}. Keep the key now: it cannot be shown again."
        )
        self.stdout.write(key)
