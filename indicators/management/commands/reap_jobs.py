from django.core.management.base import BaseCommand

from indicators.services import reap_jobs


class Command(BaseCommand):
    help = (
        "Import jobs and computation runs whose process stopped (lease expired): send them again, or fail them "
        "with the reason after JOB_MAX_ATTEMPTS. What Celery beat runs every half lease; safe to run any time."
    )

    def handle(self, *args, **options):
        done = reap_jobs()
        for line in done:
            self.stdout.write(line)
        self.stdout.write(f"{len(done)} lost job(s) handled." if done else "No lost jobs.")
