"""Computation benchmark: every bowel indicator of a 1,000,000-patient release, against a bare baseline.

Not a timed test. In one process and one run it times:
- baseline: read the release into pandas, select each indicator's cohort, fit the three
  logistic risk models once, and one groupby per indicator (no funnels, levels or storage);
- ours: the real computation run, in-process (`start_run` with Celery eager): per indicator,
  load its columns, fit, compute provider, Cancer Alliance and England results for every
  audit year and all years together, funnel limits with overdispersion, flags, quarterly
  XmR trends, and store them, then swap the run in.
It prints both medians, their ratio (target <= 3.0) and the peak memory (target < 2 GB).
The dashboards' page pieces, a separate job queued when a run becomes current, are left out.

It then times whole processes, as an operator runs them: `python manage.py compute_indicators
--in-process` (interpreter, Django, system checks, the run and the page build that follows it)
against a process that sets up Django and runs the baseline above once; target ratio <= 3.0.

With --all-audits it times every shipped audit instead, at national volume: each audit's demo extract
(its definition's demo section) scaled so that together they hold --patients patients over three audit
years (1,200,000 by default: about 400,000 a year), imported, then every indicator of every audit computed
in-process against the same bare baseline per audit; then the same runs queued at once on 1 and then 2
real Celery workers (separate processes on a Redis broker), as scale-out runs them.

    make bench-compute      # or: python bench/compute.py --rows 1000000 --repeats 3
    make bench-all-audits   # or: python bench/compute.py --all-audits --repeats 1 --workers 1,2
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
sys.path.insert(0, str(ROOT / "bench"))

from benchdb import DEFAULT_SERVER, EXTRACT_DATE, extract, fresh_database, setup_django  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--baseline-once", type=int, metavar="RELEASE", help=argparse.SUPPRESS)
    parser.add_argument("--all-audits", action="store_true", help="every shipped audit at national volume")
    parser.add_argument("--patients", type=int, default=1_200_000, help="all audits together (--all-audits)")
    parser.add_argument("--workers", default="1,2", help="Celery worker counts to time (--all-audits)")
    parser.add_argument("--broker", default=SCALE_OUT_BROKER, help="Redis broker of the workers (--all-audits)")
    args = parser.parse_args()
    if args.baseline_once:
        return baseline_process(args.baseline_once)
    if args.all_audits:
        return all_audits(args)

    # The dashboards' page pieces are a separate job: left out of the measured run.
    setup_django(fresh_database(args.server, "cancerplan_bench_compute"), AFTER_RUN_TASKS="")
    import logging

    logging.disable(logging.INFO)

    from accounts.services import Actor
    from audits.services import import_extract

    path = extract("bowel", args.rows, args.seed)
    with path.open("rb") as stream:
        release = import_extract(
            audit_code="bowel",
            stream=stream,
            file_name=path.name,
            extract_date=EXTRACT_DATE,
            actor=Actor.command_line(name="bench"),
        ).release

    ours, baseline = [], []
    peak_mb = None
    for round_ in range(args.repeats):
        ours.append(timed_run(release))
        if peak_mb is None:
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        baseline.append(timed_baseline(release))
        print(f"round {round_ + 1}: baseline {baseline[-1]:.2f} s, computation run {ours[-1]:.2f} s", flush=True)
    whole, whole_baseline = [], []
    for round_ in range(args.repeats):
        whole.append(timed_command(release))
        whole_baseline.append(timed_baseline_process(release))
        print(
            f"round {round_ + 1}: whole processes: baseline {whole_baseline[-1]:.2f} s, "
            f"manage.py compute_indicators {whole[-1]:.2f} s",
            flush=True,
        )
    b, o = statistics.median(baseline), statistics.median(ours)
    wb, wo = statistics.median(whole_baseline), statistics.median(whole)
    print(f"\nbowel release: {release.rows:,} patients, 8 indicators (3 risk-adjusted); {args.repeats} rounds, medians")
    print(f"baseline  read + cohorts + 3 logistic fits + a groupby each : {b:6.2f} s")
    print(f"ours      full run: levels, years, funnels, OD, flags, XmR, stored : {o:6.2f} s")
    print(f"ratio     ours / baseline                                      : {o / b:6.2f}   (target <= 3.0)")
    print(f"peak RSS  after the first run                                  : {peak_mb:6.0f} MB (target < 2048)")
    print("whole processes")
    print(f"baseline  python: Django set-up + the baseline above             : {wb:6.2f} s")
    print(f"ours      manage.py compute_indicators --in-process + page build : {wo:6.2f} s")
    print(f"ratio     ours / baseline                                      : {wo / wb:6.2f}   (target <= 3.0)")


def timed_command(release) -> float:
    """The whole `python manage.py compute_indicators --in-process` process, with the page build after it."""
    from indicators.models import ComputationRun

    env = {**os.environ, "AFTER_RUN_TASKS": "dashboards.tasks.build_run_pages"}
    argv = [sys.executable, "manage.py", "compute_indicators", "--audit", "bowel", "--release", str(release.pk)]
    start = time.perf_counter()
    done = subprocess.run([*argv, "--in-process"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    run = ComputationRun.objects.filter(release=release).latest("pk")
    if done.returncode != 0 or run.status != ComputationRun.Status.DONE:
        raise SystemExit(f"compute_indicators failed: {done.stderr[-2000:]}")
    return elapsed


def timed_baseline_process(release) -> float:
    argv = [sys.executable, str(Path(__file__).resolve()), "--baseline-once", str(release.pk)]
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=os.environ.copy(), check=True)
    return time.perf_counter() - start


def baseline_process(release_id: int) -> None:
    """The baseline in a process of its own (the database was set up by the parent)."""
    import django

    django.setup()  # the parent's environment: the bench database, production-like settings
    from audits.models import Release

    timed_baseline(Release.objects.get(pk=release_id))


def timed_run(release) -> float:
    from indicators import services
    from indicators.models import ComputationRun
    from indicators.services import start_run

    services._ROWS_CACHE.clear()  # read the release afresh each round, as the baseline does
    start = time.perf_counter()
    run = start_run(release=release)
    elapsed = time.perf_counter() - start
    run.refresh_from_db()
    if run.status != ComputationRun.Status.DONE:
        raise SystemExit(f"the run did not finish: {run.status} {run.failure}")
    return elapsed


def timed_baseline(release) -> float:
    from audits.registry import get_definition
    from audits.selectors import release_frame
    from indicators.definitions import evaluate
    from indicators.registry import indicators_for
    from indicators.stats.risk import RiskModelError, fit_risk_model

    start = time.perf_counter()
    frame = release_frame(release)
    provider = get_definition(release.audit_id).provider
    for indicator in indicators_for(release.audit_id):
        denominator = evaluate(indicator.denominator, frame, release.extract_date)
        numerator = denominator & evaluate(indicator.numerator, frame, release.extract_date)
        if indicator.risk_adjusted:
            cohort = frame.loc[denominator].assign(_outcome=numerator[denominator])
            try:
                fit_risk_model(
                    cohort,
                    "_outcome",
                    indicator.risk_model["covariates"],
                    indicator.risk_model.get("interactions") or (),
                )
            except RiskModelError:  # too few events to fit (a small audit): the attempt is the work, as in ours
                pass
        frame.assign(_n=numerator, _d=denominator).groupby(provider)[["_n", "_d"]].sum()
    return time.perf_counter() - start


# ------------------------------------------------------------------ every audit

SCALE_OUT_BROKER = "redis://127.0.0.1:6379/14"


def all_audits(args) -> None:
    """Every shipped audit at national volume: in-process against the baseline, then on 1, 2, ... Celery workers."""
    setup_django(fresh_database(args.server, "cancerplan_bench_all"), AFTER_RUN_TASKS="", CELERY_BROKER_URL=args.broker)
    import logging

    logging.disable(logging.INFO)

    from accounts.services import Actor
    from audits.demo.spec import DEFAULT_ROWS
    from audits.registry import all_definitions
    from audits.services import import_extract, sync_audit
    from indicators.registry import indicators_for

    definitions = dict(sorted(all_definitions().items()))
    shares = {code: (d.demo.rows if d.demo else DEFAULT_ROWS) for code, d in definitions.items()}
    scale = args.patients / sum(shares.values())
    releases = []
    for code, definition in definitions.items():
        sync_audit(definition)
        path = extract(code, round(shares[code] * scale), args.seed)
        with path.open("rb") as stream:
            outcome = import_extract(
                audit_code=code,
                stream=stream,
                file_name=path.name,
                extract_date=EXTRACT_DATE,
                actor=Actor.command_line(name="bench"),
            )
        if outcome.release is None:
            raise SystemExit(f"{code}: the demo extract was refused: {outcome.status}")
        releases.append(outcome.release)
    patients = sum(r.rows for r in releases)
    indicators = sum(len(indicators_for(r.audit_id)) for r in releases)

    ours: dict[str, list[float]] = {r.audit_id: [] for r in releases}
    baseline: dict[str, list[float]] = {r.audit_id: [] for r in releases}
    for round_ in range(args.repeats):
        for release in releases:
            ours[release.audit_id].append(timed_run(release))
            baseline[release.audit_id].append(timed_baseline(release))
        print(
            f"round {round_ + 1}: baseline {sum(b[-1] for b in baseline.values()):.1f} s, "
            f"computation runs {sum(o[-1] for o in ours.values()):.1f} s",
            flush=True,
        )
    print(f"\nevery audit: {len(releases)} audits, {patients:,} patients, {indicators} indicators; medians")
    print(f"{'audit':<18} {'patients':>9} {'indicators':>10} {'baseline':>9} {'ours':>8} {'ratio':>6}")
    for release in releases:
        b, o = statistics.median(baseline[release.audit_id]), statistics.median(ours[release.audit_id])
        count = len(indicators_for(release.audit_id))
        print(f"{release.audit_id:<18} {release.rows:>9,} {count:>10} {b:>8.2f}s {o:>7.2f}s {o / b:>6.2f}")
    b = sum(statistics.median(v) for v in baseline.values())
    o = sum(statistics.median(v) for v in ours.values())
    print(f"{'all':<18} {patients:>9,} {indicators:>10} {b:>8.2f}s {o:>7.2f}s {o / b:>6.2f}")

    print("\nscale-out: every audit's run queued at once, on Celery workers (one task at a time each)")
    times = {}
    for workers in (int(n) for n in args.workers.split(",")):
        times[workers] = timed_workers(releases, workers)
        first = times[min(times)]
        print(
            f"{workers} worker{'s' if workers > 1 else ' '}: {times[workers]:7.2f} s "
            f"(speed-up {first / times[workers]:.2f} over {min(times)})",
            flush=True,
        )


def timed_workers(releases, workers: int) -> float:
    """Queue a run of every release at once and time until all are done, on ``workers`` worker processes."""
    from cancerplan.celery import app
    from indicators import services
    from indicators.models import ComputationRun

    env = {**os.environ, "CELERY_TASK_ALWAYS_EAGER": "false"}
    log = ROOT / "var" / "bench" / "workers.log"
    app.control.purge()
    with log.open("w") as out:
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "cancerplan", "worker", "--pool=solo", "--concurrency=1"]
                + [f"--hostname=bench{i}@%h", "--without-mingle", "--without-gossip", "--loglevel=WARNING"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            for i in range(workers)
        ]
    try:
        deadline = time.monotonic() + 120
        while len(app.control.ping(timeout=0.5) or []) < workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise SystemExit(f"the workers did not start: {log.read_text()[-2000:]}")
        app.conf.task_always_eager = False
        services._ROWS_CACHE.clear()
        start = time.perf_counter()
        runs = [services.start_run(release=release) for release in releases]
        while True:
            states = set(ComputationRun.objects.filter(pk__in=[r.pk for r in runs]).values_list("status", flat=True))
            if states <= {ComputationRun.Status.DONE, ComputationRun.Status.FAILED}:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - start
        if ComputationRun.Status.FAILED in states:
            raise SystemExit(f"a run failed on the workers: {log.read_text()[-2000:]}")
        return elapsed
    finally:
        app.conf.task_always_eager = True
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
