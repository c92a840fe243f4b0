"""Ingestion benchmark: a 1,000,000-row bowel extract, checked and stored, against a plain COPY.

Not a timed test. Prints, from one process and one run: the median time of a plain
`COPY ... FROM STDIN (FORMAT csv)` of the same file into an unindexed all-text table
(the baseline), the median time of the full import (read, validate every row, type,
COPY into the release table, one transaction), their ratio (target <= 2.0) and the
import's peak memory (target < 1.5 GB).

    make bench-ingest            # or: python bench/ingest.py --rows 1000000 --repeats 3
Needs PostgreSQL (DATABASE_URL, default the local server); uses its own database.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchdb import DEFAULT_SERVER, fresh_database, setup_django  # noqa: E402

EXTRACT_DATE = date(2026, 3, 31)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    args = parser.parse_args()

    setup_django(fresh_database(args.server, "cancerplan_bench"))
    path = extract_file(args.rows, args.seed)
    size_mb = path.stat().st_size / 1e6

    baseline, ours = [], []
    peak_rss_mb = None
    for round_ in range(args.repeats):
        ours.append(timed_import(path))
        if peak_rss_mb is None:  # before the baseline (which needs little memory) runs in this process
            peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        baseline.append(timed_copy(path))
        print(f"round {round_ + 1}: baseline COPY {baseline[-1]:.2f} s, import {ours[-1]:.2f} s", flush=True)

    b, o = statistics.median(baseline), statistics.median(ours)
    print(f"\nbowel extract: {args.rows:,} rows, {size_mb:.0f} MB; {args.repeats} rounds, medians")
    print(f"baseline  plain COPY into an unindexed text table : {b:6.2f} s")
    print(f"import    validate + type + COPY, one transaction : {o:6.2f} s")
    print(f"ratio     import / baseline                        : {o / b:6.2f}   (target <= 2.0)")
    print(f"peak RSS  of this process after the first import   : {peak_rss_mb:6.0f} MB (target < 1500)")


def extract_file(rows: int, seed: int) -> Path:
    import pandas as pd

    from audits.demo import generate_extract, write_extract

    path = ROOT / "var" / "bench" / f"bowel_{rows}_{seed}.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        seed_dir = ROOT / "audits" / "seed"
        trusts = pd.read_csv(seed_dir / "trusts.csv", dtype=str)
        successors = pd.read_csv(seed_dir / "successors.csv", dtype=str)
        write_extract(generate_extract("bowel", rows, seed, EXTRACT_DATE, trusts, successors), path)
    return path


def timed_import(path: Path) -> float:
    from django.db import connection

    from audits.models import Release
    from audits.services import import_extract

    start = time.perf_counter()
    with path.open("rb") as stream:
        outcome = import_extract(
            audit_code="bowel",
            stream=stream,
            file_name=path.name,
            extract_date=EXTRACT_DATE,
            origin="cli",
            uploaded_by_name="bench",
        )
    elapsed = time.perf_counter() - start
    if not outcome.accepted:
        raise SystemExit(f"the bench extract was refused: {outcome.as_json()['errors'][:5]}")
    release = outcome.release
    with connection.cursor() as cursor:  # bench-only clean-up so the same file can be imported again
        cursor.execute(f'TRUNCATE "{release.storage_table}"')  # noqa: S608
    Release.objects.filter(pk=release.pk).delete()
    return elapsed


def timed_copy(path: Path) -> float:
    from django.db import connection

    with path.open("rb") as f:
        header = f.readline().decode().strip().split(",")
    columns = ", ".join(f'"{name}" text' for name in header)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_plain_copy")
        cursor.execute(f"CREATE TABLE bench_plain_copy ({columns})")
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
