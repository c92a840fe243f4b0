import json
import sys
from datetime import date
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core import checks
from django.core.management.base import BaseCommand, CommandError

from accounts.services import Actor
from audits.registry import all_definitions
from audits.services import import_extract


def iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--extract-date {value!r} is not a date in YYYY-MM-DD form") from exc


class Command(BaseCommand):
    # The checks an import depends on: every definition file, and the models. The URL checks (which
    # load every page and the API) concern the web server and are left to its own start-up.
    requires_system_checks = [checks.Tags.models, "definitions"]
    help = (
        "Check an audit extract and, if every row passes, store it as the audit's next release, published at "
        "once unless --draft. Exit status 0 when accepted, 1 when refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="CSV extract (UTF-8)")
        parser.add_argument("--audit", required=True, help="Audit code, e.g. bowel or lung")
        parser.add_argument(
            "--extract-date",
            required=True,
            type=str,
            help="When the data were drawn (YYYY-MM-DD); follow-up is measured to it",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object with the result")
        parser.add_argument("--user", help="Username to record as the uploader (default: the OS user)")
        parser.add_argument(
            "--draft",
            action="store_true",
            help="Keep the release as a draft for the audit's analysts to review; publish it later with "
            "publish_release ID (default: published at once)",
        )

    def handle(self, *args, **options):
        audit = options["audit"]
        if audit not in all_definitions():
            raise CommandError(f"unknown audit {audit!r}; known audits: {', '.join(sorted(all_definitions()))}")
        extract_date = iso_date(options["extract_date"])
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user called {options['user']!r}")
        try:
            stream = path.open("rb")
        except OSError as exc:  # e.g. no permission to read it
            raise CommandError(f"{path} cannot be read: {exc.strerror or exc}") from exc
        with stream:
            # The service logs an accepted file; a refused one stores nothing, not even a log entry
            # (this command says why).
            outcome = import_extract(
                audit_code=audit,
                stream=stream,
                file_name=path.name,
                extract_date=extract_date,
                actor=Actor.command_line(user),
                publish=not options["draft"],
            )
        if options["json"]:
            self.stdout.write(json.dumps(outcome.as_json()))
        else:
            self._print(outcome)
        if not outcome.accepted:
            sys.exit(1)

    def _print(self, outcome) -> None:
        report = outcome.report
        for warning in report.warnings:
            self.stderr.write(f"warning: {warning}")
        if outcome.accepted:
            release = outcome.release
            state = (
                "published"
                if release.is_published
                else f"a draft, not published (publish it with: manage.py publish_release {release.pk})"
            )
            self.stdout.write(
                self.style.SUCCESS(
                    f"Accepted: {release.audit_id} release {release.version} (id {release.pk}), {report.rows} rows, "
                    f"diagnosed {release.period_start} to {release.period_end}; {state}."
                )
            )
            return
        self.stderr.write(
            self.style.ERROR(
                f"Refused: {report.error_count} error(s); nothing was stored. "
                f"{'First 100:' if report.error_count > 100 else ''}"
            )
        )
        for error in report.errors:
            where = f"line {error.line}" if error.line is not None else "file"
            column = f", column {error.column}" if error.column else ""
            value = f" (value {error.value!r})" if error.value else ""
            self.stderr.write(f"  {where}{column}{value}: {error.message}")
