import getpass
import socket

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.models import AuditLogEntry
from accounts.roles import alliance_of_lead, analyst_audits, role_of
from accounts.services import set_alliance_lead, set_analyst
from audits.models import Alliance
from audits.registry import all_definitions


class Command(BaseCommand):
    help = "Give or take a user's roles: analyst of an audit, Cancer Alliance lead. Each change is audit-logged."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--analyst",
            action="append",
            default=[],
            metavar="AUDIT",
            help="Make the user an analyst of this audit (repeatable)",
        )
        parser.add_argument(
            "--not-analyst",
            action="append",
            default=[],
            metavar="AUDIT",
            help="Remove the user from this audit's analysts (repeatable)",
        )
        parser.add_argument("--alliance-lead", metavar="ALLIANCE_CODE", help="Make the user this alliance's lead")
        parser.add_argument("--not-alliance-lead", action="store_true", help="The user no longer leads an alliance")

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user called {options['username']!r}")
        known = all_definitions()
        for code in options["analyst"] + options["not_analyst"]:
            if code not in known:
                raise CommandError(f"unknown audit {code!r}; known audits: {', '.join(sorted(known))}")
        alliance = None
        if options["alliance_lead"]:
            alliance = Alliance.objects.filter(code=options["alliance_lead"].upper()).first()
            if alliance is None:
                raise CommandError(f"no Cancer Alliance with code {options['alliance_lead']!r}")
        who = dict(actor_name=f"{getpass.getuser()}@{socket.gethostname()}", via=AuditLogEntry.Via.CLI)
        for code in options["analyst"]:
            set_analyst(user=user, audit_code=code, member=True, **who)
        for code in options["not_analyst"]:
            set_analyst(user=user, audit_code=code, member=False, **who)
        if alliance is not None or options["not_alliance_lead"]:
            set_alliance_lead(user=user, alliance=alliance, **who)
        user = get_user_model().objects.get(pk=user.pk)  # forget cached roles
        audits = ", ".join(sorted(analyst_audits(user))) or "no audit"
        self.stdout.write(
            f"{user.get_username()}: {role_of(user)}; analyst of {audits}; "
            f"leads {alliance_of_lead(user) or 'no alliance'}."
        )
