from django.core.management.base import BaseCommand

from dashboards.models import FigureSpec
from dashboards.selectors import shown_runs
from dashboards.services import build_run_pages


class Command(BaseCommand):
    help = (
        "Build the dashboard pages' pieces (numbers, sentences, figure specifications) of every audit's shown "
        "run. Pages build them on first visit anyway; --rebuild replaces them, e.g. after trusts are renamed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", help="Delete and rebuild the pieces of the shown runs")

    def handle(self, *args, **options):
        for audit, run in sorted(shown_runs().items()):
            if options["rebuild"]:
                FigureSpec.objects.filter(run=run).delete()
            count = build_run_pages(run)
            self.stdout.write(f"{audit}: run {run.pk} (release {run.release.version}), {count} pieces")
