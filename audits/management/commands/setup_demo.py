from datetime import date
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand

from accounts.roles import analyst_group_name
from accounts.services import Actor
from audits.demo.spec import DEFAULT_ROWS
from audits.models import Release
from audits.registry import all_definitions
from audits.services import import_extract, sync_audit

DEMO_USERS = {
    # username: (password, audits analysed ("every": every audit loaded), staff)
    "analyst": ("demo-analyst-2026", "every", False),
    "clinician": ("demo-clinician-2026", (), False),
    "alliance": ("demo-alliance-2026", (), False),
    "admin": ("demo-admin-2026", (), True),
}
DEMO_ALLIANCE = "E56000019"  # Greater Manchester, which includes a merged trust (RW6 into RM3)


class Command(BaseCommand):
    help = (
        "Generate and import a demo extract of every audit (once; as many patients as its definition's demo section "
        "says) and create the demo users. For a local demo only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dir", type=Path, default=Path("var/demo"))
        parser.add_argument("--extract-date", default="2026-03-31")
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, **options):
        extract_date = date.fromisoformat(options["extract_date"])
        for code, definition in all_definitions().items():
            rows = definition.demo.rows if definition.demo else DEFAULT_ROWS
            sync_audit(definition)
            path = (
                options["dir"] / f"{code}_demo_{rows}_{options['seed']}_{definition.sha256[:8]}.csv"
            )  # a new file when the definition changes
            if not path.exists():
                call_command(
                    "generate_demo_extract",
                    str(path),
                    audit=code,
                    rows=rows,
                    seed=options["seed"],
                    extract_date=options["extract_date"],
                    stdout=self.stdout,
                )
            if Release.objects.filter(audit_id=code).exists():
                self.stdout.write(f"{code}: a release is already loaded; keeping it.")
                continue
            with path.open("rb") as stream:
                outcome = import_extract(
                    audit_code=code,
                    stream=stream,
                    file_name=path.name,
                    extract_date=extract_date,
                    actor=Actor.command_line(name="demo set-up"),
                )
            self.stdout.write(f"{code}: {outcome.status}, {outcome.report.rows} rows.")
        User = get_user_model()
        for username, (password, audits, staff) in DEMO_USERS.items():
            user, created = User.objects.get_or_create(
                username=username, defaults={"is_staff": staff, "is_superuser": staff}
            )
            if created:
                user.set_password(password)
                user.save()
            for code in all_definitions() if audits == "every" else audits:
                user.groups.add(Group.objects.get(name=analyst_group_name(code)))
            if username == "alliance":
                from accounts.models import AllianceLead

                AllianceLead.objects.get_or_create(user=user, defaults={"alliance_id": DEMO_ALLIANCE})
        self.stdout.write(
            "Demo users: analyst / demo-analyst-2026 (analyst of every audit), clinician / "
            "demo-clinician-2026, alliance / demo-alliance-2026 (Greater Manchester lead), "
            "admin / demo-admin-2026 (staff)."
        )
