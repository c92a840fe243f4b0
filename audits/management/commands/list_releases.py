import json
from typing import Any

from django.core.management.base import BaseCommand

from audits.selectors import releases_with_current


class Command(BaseCommand):
    help = "List an audit's releases, newest first."

    def add_arguments(self, parser):
        parser.add_argument("--audit", required=True)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        rows: list[dict[str, Any]] = [
            {
                "id": r.pk,
                "version": r.version,
                "sha256": r.sha256,
                "rows": r.rows,
                "status": r.status,
                "current": current,
                "file_name": r.file_name,
                "extract_date": r.extract_date.isoformat(),
                "uploaded_at": r.uploaded_at.isoformat(),
                "uploaded_by": r.uploaded_by_name,
            }
            for r, current in releases_with_current(options["audit"])
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rows))
            return
        if not rows:
            self.stdout.write(f"No releases for {options['audit']}.")
        for row in rows:
            mark = "current" if row["current"] else row["status"]
            self.stdout.write(
                f"{row['id']:>5}  v{row['version']:<3} {mark:<9} {row['rows']:>9} rows  "
                f"{row['file_name']}  {row['sha256'][:12]}"
            )
