import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.services import Actor
from audits.models import Release
from indicators.models import ComputationRun
from indicators.services import recompute_release


class Command(BaseCommand):
    help = "Compute every indicator of a release (the current one by default) and wait for it to finish."

    def add_arguments(self, parser):
        parser.add_argument("--audit", required=True)
        parser.add_argument("--release", type=int, help="Release id (default: the audit's current release)")
        parser.add_argument(
            "--in-process", action="store_true", help="Run the tasks in this process instead of on Celery workers"
        )
        parser.add_argument("--timeout", type=float, default=3600, help="Seconds to wait for workers")

    def handle(self, *args, **options):
        if options["release"]:
            release = Release.objects.filter(pk=options["release"], audit_id=options["audit"]).first()
        else:
            release = Release.objects.current(options["audit"])
        if release is None:
            raise CommandError(f"no {'such ' if options['release'] else 'current '}release of {options['audit']}")
        from cancerplan.celery import app

        eager = app.conf.task_always_eager
        if options["in_process"]:
            app.conf.task_always_eager = True
        try:
            run = recompute_release(release=release, actor=Actor.command_line())  # logs it too
        finally:
            app.conf.task_always_eager = eager
        self.stdout.write(f"Run {run.pk} of {release}: {run.total} indicators queued.")
        deadline = time.monotonic() + options["timeout"]
        shown = None
        while True:
            run.refresh_from_db()
            if run.progress_text != shown:
                shown = run.progress_text
                self.stdout.write(f"  {shown}")
            if run.status in (ComputationRun.Status.DONE, ComputationRun.Status.FAILED):
                break
            if time.monotonic() > deadline:
                raise CommandError(
                    f"gave up waiting after {options['timeout']} s; is a Celery worker running "
                    f"(broker {settings.CELERY_BROKER_URL or 'none'})?"
                )
            time.sleep(0.5)
        if run.status == ComputationRun.Status.FAILED:
            raise CommandError(f"run {run.pk} failed: {run.failure}")
        self.stdout.write(self.style.SUCCESS(f"Run {run.pk} done; its results are now current for {release}."))
