from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.services import Actor
from audits.models import Release
from audits.services import NotPublishable, publish_release


class Command(BaseCommand):
    help = (
        "Publish a draft release: the public pages and the API show it once its computation is done. "
        "Exit status 0 when published; an unknown, withdrawn or already published release is an error."
    )

    def add_arguments(self, parser):
        parser.add_argument("release", type=int, help="Release id")
        parser.add_argument("--user", help="Username to record as the publisher (default: the OS user)")

    def handle(self, *args, **options):
        release = Release.objects.filter(pk=options["release"]).first()
        if release is None:
            raise CommandError(f"no release with id {options['release']}")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user called {options['user']!r}")
        try:
            release = publish_release(release, Actor.command_line(user))
        except NotPublishable as exc:
            raise CommandError(str(exc)) from exc
        replaced = (
            Release.objects.accepted()
            .filter(audit_id=release.audit_id, version__lt=release.version)
            .order_by("-version")
            .first()
        )
        self.stdout.write(
            f"Published {release} (id {release.pk}); it replaces {replaced or 'nothing (the first published)'} "
            "on the public pages and in the API once its computation is done."
        )
