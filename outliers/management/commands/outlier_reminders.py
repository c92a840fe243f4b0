"""python manage.py outlier_reminders [--date YYYY-MM-DD]: send the reminders and escalations of overdue stages.

Each overdue step is sent once, whenever this runs (Celery beat runs it daily as ``outliers.check_overdue``).
"""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from outliers.services import check_overdue


class Command(BaseCommand):
    help = "Send the reminders and escalations of overdue outlier case stages (each once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--date", help="Check as of this day (YYYY-MM-DD; default today)")

    def handle(self, *args, **options) -> None:
        try:
            today = date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError as exc:
            raise CommandError(f"--date: {exc}") from exc
        events = check_overdue(today)
        for event in events:
            self.stdout.write(
                f"case {event.case_id}: {event.action} ({event.from_stage}), to {len(event.email.get('to', []))}"
            )
        self.stdout.write(f"{len(events)} reminder(s) and escalation(s) sent")
