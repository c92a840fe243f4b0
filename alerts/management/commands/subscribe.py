from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from alerts import services
from alerts.models import Subscription


class Command(BaseCommand):
    help = (
        "Follow a trust, a Cancer Alliance or an audit for USER: one digest email per published release "
        "(--remove stops it). With no target, lists USER's subscriptions."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--trust", metavar="CODE", help="ODS code of an NHS trust")
        which.add_argument("--alliance", metavar="CODE", help="code of a Cancer Alliance")
        which.add_argument("--audit", metavar="CODE", help="code of an audit (e.g. bowel)")
        parser.add_argument("--remove", action="store_true", help="stop following it instead")

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user called {options['username']!r}")
        kind = next((k for k in ("trust", "alliance", "audit") if options[k]), None)
        if kind is None:
            if options["remove"]:
                raise CommandError("--remove needs --trust, --alliance or --audit")
            for item in Subscription.objects.filter(user=user).order_by("kind", "code"):
                self.stdout.write(f"{item.kind}\t{item.code}")
            return
        try:
            found = services.target(kind, options[kind])
            if options["remove"]:
                removed = services.unsubscribe(user, kind, options[kind])
                self.stdout.write(
                    f"{user.get_username()} no longer follows {found.name} ({found.code})"
                    if removed
                    else f"{user.get_username()} did not follow {found.name} ({found.code})"
                )
                return
            _, created = services.subscribe(user, kind, options[kind])
        except services.UnknownTarget as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{user.get_username()} {'now follows' if created else 'already follows'} {found.name} ({found.code})"
        )
        if not user.email:
            self.stderr.write(f"{user.get_username()} has no email address: no digest can reach them.")
