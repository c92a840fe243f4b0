r"""Ingestion benchmark: a 1,000,000-row bowel extract, checked and stored, against a plain COPY.

Not a timed test. Prints, from one run, two pairs of medians and their ratios:
- in this process: a plain `COPY ... FROM STDIN (FORMAT csv)` of the same file into an
  unindexed all-text table (the baseline) against the full import (read, validate every row,
  type, COPY into the release table, one transaction); target ratio <= 2.0;
- whole processes, as an analyst runs them: `psql -c "\copy ..."` of the same file into the
  same kind of table against `python manage.py import_extract` (interpreter, Django, system
  checks and the import); target ratio <= 2.0;
and the in-process import's peak memory (target < 1.5 GB).

    make bench-ingest            # or: python bench/ingest.py --rows 1000000 --repeats 3
Needs PostgreSQL (DATABASE_URL, default the local server); uses its own database.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchdb import DEFAULT_SERVER, EXTRACT_DATE, extract, fresh_database, setup_django  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    args = parser.parse_args()

    database_url = fresh_database(args.server, "cancerplan_bench")
    setup_django(database_url)
    path = extract_file(args.rows, args.seed)
    size_mb = path.stat().st_size / 1e6

    baseline, ours, psql_copy, command = [], [], [], []
    peak_rss_mb = None
    for round_ in range(args.repeats):
        ours.append(timed_import(path))
        if peak_rss_mb is None:  # before the baseline (which needs little memory) runs in this process
            peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        baseline.append(timed_copy(path))
        command.append(timed_import_command(path))
        psql_copy.append(timed_psql_copy(path, database_url))
        print(
            f"round {round_ + 1}: in process: COPY {baseline[-1]:.2f} s, import {ours[-1]:.2f} s; "
            f"whole process: psql \\copy {psql_copy[-1]:.2f} s, manage.py import_extract {command[-1]:.2f} s",
            flush=True,
        )

    b, o = statistics.median(baseline), statistics.median(ours)
    pb, po = statistics.median(psql_copy), statistics.median(command)
    print(f"\nbowel extract: {args.rows:,} rows, {size_mb:.0f} MB; {args.repeats} rounds, medians")
    print("in this process")
    print(f"  baseline  plain COPY into an unindexed text table : {b:6.2f} s")
    print(f"  import    validate + type + COPY, one transaction : {o:6.2f} s")
    print(f"  ratio     import / baseline                        : {o / b:6.2f}   (target <= 2.0)")
    print("whole processes")
    print(f"  baseline  psql \\copy into an unindexed text table : {pb:6.2f} s")
    print(f"  import    python manage.py import_extract          : {po:6.2f} s")
    print(f"  ratio     import / baseline                        : {po / pb:6.2f}   (target <= 2.0)")
    print(f"peak RSS  of this process after the first import     : {peak_rss_mb:6.0f} MB (target < 1500)")


def extract_file(rows: int, seed: int) -> Path:
    return extract("bowel", rows, seed)


def timed_import(path: Path) -> float:
    from accounts.services import Actor
    from audits.services import import_extract

    start = time.perf_counter()
    with path.open("rb") as stream:
        outcome = import_extract(
            audit_code="bowel",
            stream=stream,
            file_name=path.name,
            extract_date=EXTRACT_DATE,
            actor=Actor.command_line(name="bench"),
        )
    elapsed = time.perf_counter() - start
    if not outcome.accepted:
        raise SystemExit(f"the bench extract was refused: {outcome.as_json()['errors'][:5]}")
    _drop_release(outcome.release)
    return elapsed


def _drop_release(release) -> None:
    """Bench-only clean-up so that the same file can be imported again."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f'TRUNCATE "{release.storage_table}"')  # noqa: S608
    release.delete()


def timed_import_command(path: Path) -> float:
    """The whole `python manage.py import_extract` process, as an analyst runs it."""
    from audits.models import Release

    argv = [sys.executable, "manage.py", "import_extract", str(path), "--audit", "bowel"]
    argv += ["--extract-date", EXTRACT_DATE.isoformat()]
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"import_extract failed: {done.stderr[-2000:]}")
    _drop_release(Release.objects.filter(audit_id="bowel").latest("pk"))
    return elapsed


def _plain_table(path: Path) -> None:
    from django.db import connection

    with path.open("rb") as f:
        header = f.readline().decode().strip().split(",")
    columns = ", ".join(f'"{name}" text' for name in header)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_plain_copy")
        cursor.execute(f"CREATE TABLE bench_plain_copy ({columns})")


def timed_psql_copy(path: Path, database_url: str) -> float:
    """The whole `psql -c "\\copy ..."` process: the least a command-line load of the file can cost."""
    from django.db import connection

    _plain_table(path)
    argv = ["psql", "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1", database_url, "-c"]
    argv.append(f"\\copy bench_plain_copy FROM '{path}' WITH (FORMAT csv, HEADER)")
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    elapsed = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_plain_copy")
    return elapsed


def timed_copy(path: Path) -> float:
    from django.db import connection

    _plain_table(path)
    start = time.perf_counter()
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor, path.open("rb") as f:
        cursor.cursor.copy_expert("COPY bench_plain_copy FROM STDIN WITH (FORMAT csv, HEADER)", f, size=1 << 20)
    elapsed = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_plain_copy")
    return elapsed


if __name__ == "__main__":
    main()
