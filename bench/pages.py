"""Page benchmark: the dashboards under load, beside a static file served by the same server.

Not a timed test. It loads a 1,000,000-patient bowel release and a lung release into their own
database (kept for the next run unless --fresh), computes their indicators, serves the app with
gunicorn (2 sync workers, DEBUG off, persistent database connections) on loopback, and for each
page type lets 16 concurrent clients request it for a bounded time (each client cycles over
several trusts, indicators or alliances). It prints p50 and p95 latency and requests per second
for every page type beside the same figures for a static file (site.css, through WhiteNoise)
measured in the same run. Target: p95 <= 150 ms for the trust dashboard, the indicator page and the
API's results of one indicator (/api/v1/results/?audit=...&indicator=..., first page of JSON).

Then it measures the trust dashboard and the indicator page while `manage.py compute_indicators
--in-process` recomputes the 1,000,000-patient bowel release in another process on the same machine,
beside the same load idle just before (p95 as a ratio); the requests made while the finished run's
page pieces were being built are reported apart (--no-computation skips all this).

    make bench-pages            # or: python bench/pages.py --seconds 15 [--fresh]
Needs PostgreSQL (DATABASE_URL, default the local server).
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from benchdb import EXTRACT_DATE, extract  # noqa: E402

DATABASE = "cancerplan_bench_pages"
SECRET_KEY = "bench-pages-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bowel-rows", type=int, default=1_000_000)
    parser.add_argument("--lung-rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--seconds", type=float, default=15.0, help="measuring time per page type")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--fresh", action="store_true", help="drop and reload the bench database")
    parser.add_argument(
        "--no-computation", action="store_true", help="skip the pages measured while the bowel release recomputes"
    )
    parser.add_argument(
        "--server", default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    )
    args = parser.parse_args()

    database_url = prepare_database(args)
    static_root = Path(tempfile.mkdtemp(prefix="bench-pages-static-"))
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "CELERY_BROKER_URL": "",
        "AFTER_RELEASE_TASKS": "",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STATIC_ROOT": str(static_root),
        "CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "cancerplan.settings",
        # 16 clients on one address: the API's throttles (the account one counts anonymous callers by
        # address too) would answer 429 to nearly all of them
        "API_RATE_ANON": "10000000/minute",
        "API_RATE_USER": "10000000/minute",
    }
    python = sys.executable
    subprocess.run([python, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)
    urls = page_urls(env)
    gunicorn = shutil.which("gunicorn", path=str(Path(python).parent)) or "gunicorn"
    server = subprocess.Popen(
        [
            gunicorn,
            "cancerplan.wsgi",
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{args.port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        wait_until_up(args.port)
        print(
            f"\ngunicorn {args.workers} sync workers on 127.0.0.1:{args.port}; {args.clients} concurrent clients, "
            f"{args.seconds:.0f} s per page type, after a warm-up pass over every URL\n"
        )
        print(f"{'page type':<22} {'urls':>4} {'requests':>9} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8} {'KB':>7}")
        rows = []
        for name, paths in urls.items():
            for path in paths:  # warm-up: each worker builds nothing per request, but caches open connections
                for _ in range(args.workers):
                    get(args.port, path)
            result = load(args.port, paths, args.clients, args.seconds)
            rows.append((name, result))
            print(
                f"{name:<22} {len(paths):>4} {result['count']:>9} {result['p50']:>8.1f} {result['p95']:>8.1f} "
                f"{result['rps']:>8.0f} {result['kb']:>7.0f}",
                flush=True,
            )
        static = dict(rows)["static file"]
        print("\nagainst the static file (same server, same run):")
        for name, result in rows:
            if name != "static file":
                print(
                    f"  {name:<20} p95 {result['p95'] / static['p95']:5.1f}x, throughput "
                    f"{result['rps'] / static['rps']:5.2f}x of the static file's"
                )
        for name in ("trust dashboard", "indicator page", "api results"):
            verdict = "meets" if dict(rows)[name]["p95"] <= 150 else "misses"
            print(f"{name}: p95 {dict(rows)[name]['p95']:.1f} ms {verdict} the 150 ms target")
        if not args.no_computation:
            during_computation(args, env, {name: urls[name] for name in BUSY_PAGES})
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(static_root, ignore_errors=True)


BUSY_PAGES = ("trust dashboard", "indicator page")


def during_computation(args, env: dict[str, str], groups: dict[str, list[str]]) -> None:
    """The trust dashboard and the indicator page while ``manage.py compute_indicators`` recomputes the bowel
    release on the same machine, beside the same pages idle under the same load (half the clients on each).

    The run ends with the build of its page pieces (AFTER_RUN_TASKS, in the command's process): from the
    moment the run becomes current until its pieces are stored, visitors wait for that one build, so
    those requests are reported apart."""
    from dashboards.models import FigureSpec
    from dashboards.services import BUILT
    from indicators.models import ComputationRun

    idle = sample(args.port, groups, args.clients, stop=deadline(args.seconds))
    before = ComputationRun.objects.filter(release__audit_id="bowel").order_by("-pk").values_list("pk", flat=True)[0]
    command = [sys.executable, "manage.py", "compute_indicators", "--audit", "bowel", "--in-process"]
    started = time.time()
    computation = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**env, "AFTER_RUN_TASKS": "dashboards.tasks.build_run_pages"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    busy = sample(args.port, groups, args.clients, stop=lambda: computation.poll() is not None)
    ended = time.time()
    stderr = computation.stderr.read() if computation.stderr else ""
    run = ComputationRun.objects.filter(release__audit_id="bowel", pk__gt=before).select_related("release").first()
    if computation.returncode != 0 or run is None or run.status != ComputationRun.Status.DONE:
        raise SystemExit(f"compute_indicators failed ({computation.returncode}): {stderr[-2000:]}")
    assert run.finished_at is not None
    current_at = run.finished_at.timestamp()  # the run became current: its pieces are built next
    built = FigureSpec.objects.filter(run=run, key=BUILT).values_list("built_at", flat=True).first()
    built_at = built.timestamp() if built else ended
    print(
        f"\nwhile `manage.py compute_indicators --audit bowel --in-process` recomputes the "
        f"{run.release.rows:,}-patient bowel release on this machine ({args.clients // len(groups)} clients on "
        f"each page type, gunicorn {args.workers} workers): computing {current_at - started:.0f} s, then "
        f"building the run's page pieces {built_at - current_at:.0f} s; idle: the same load for "
        f"{args.seconds:.0f} s just before\n"
    )
    print(
        f"{'page type':<17} {'phase':<16} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'max ms':>8} {'p95 / idle':>10}"
    )
    phases = {
        "idle": lambda t: True,
        "computing": lambda t: t < current_at,
        "building pieces": lambda t: current_at <= t < built_at,
        "after": lambda t: t >= built_at,
    }
    for name in groups:
        idle_p95 = None
        for phase, inside in phases.items():
            samples = idle if phase == "idle" else busy
            latencies = sorted(ms for kind, at, ms in samples["ok"] if kind == name and inside(at))
            errors = sum(1 for kind, at in samples["errors"] if kind == name and inside(at))
            if not latencies:
                print(f"{name:<17} {phase:<16} {0:>8} {errors:>6}")
                continue
            p95 = percentile(latencies, 0.95)
            idle_p95 = idle_p95 or p95
            print(
                f"{name:<17} {phase:<16} {len(latencies):>8} {errors:>6} {statistics.median(latencies):>8.1f} "
                f"{p95:>8.1f} {latencies[-1]:>8.1f} {p95 / idle_p95:>9.1f}x"
            )


def deadline(seconds: float):
    end = time.perf_counter() + seconds
    return lambda: time.perf_counter() >= end


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def sample(port: int, groups: dict[str, list[str]], clients: int, stop) -> dict[str, list]:
    """Closed loop, the clients split evenly between the page types, until ``stop()``: each answer's page
    type, wall-clock start and latency (ms), and each failure's page type and start (failures go on)."""
    ok: list[tuple[str, float, float]] = []
    errors: list[tuple[str, float]] = []
    lock = threading.Lock()
    names = list(groups)

    def client(n: int) -> None:
        name = names[n % len(names)]
        paths, i = groups[name], n
        while not stop():
            path = paths[i % len(paths)]
            i += 1
            at, start = time.time(), time.perf_counter()
            try:
                get(port, path, timeout=120)
            except Exception:  # noqa: BLE001 - counted and reported
                with lock:
                    errors.append((name, at))
                time.sleep(0.1)
                continue
            with lock:
                ok.append((name, at, 1000 * (time.perf_counter() - start)))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"ok": ok, "errors": errors}


def prepare_database(args) -> str:
    import psycopg2

    base = args.server.rsplit("/", 1)[0]
    admin = psycopg2.connect(args.server)
    admin.autocommit = True
    with admin.cursor() as cursor:
        if args.fresh:
            cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE DATABASE {DATABASE}")
    admin.close()
    url = f"{base}/{DATABASE}"
    os.environ.update(
        DATABASE_URL=url,
        DEBUG="false",
        CELERY_TASK_ALWAYS_EAGER="true",
        CELERY_BROKER_URL="",
        AFTER_RELEASE_TASKS="",
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="localhost",
        DJANGO_SETTINGS_MODULE="cancerplan.settings",
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    for audit, rows in (("bowel", args.bowel_rows), ("lung", args.lung_rows)):
        load_release(audit, rows, args.seed)
    from dashboards.models import FigureSpec
    from dashboards.selectors import shown_runs
    from dashboards.services import build_run_pages

    for audit, run in shown_runs().items():
        FigureSpec.objects.filter(run=run).delete()  # always measure what the current code builds
        start = time.perf_counter()
        count = build_run_pages(run)
        print(
            f"{audit}: built the dashboard pieces of run {run.pk} ({count} pieces) in "
            f"{time.perf_counter() - start:.1f} s",
            flush=True,
        )
    from django.db import connections

    connections.close_all()
    return url


def load_release(audit: str, rows: int, seed: int) -> None:
    from accounts.services import Actor
    from audits.models import Release
    from audits.services import import_extract
    from indicators.models import ComputationRun
    from indicators.services import start_run

    release = Release.objects.filter(audit_id=audit, status="accepted", rows=rows).order_by("-version").first()
    if release is None:
        path = extract(audit, rows, seed)
        start = time.perf_counter()
        with path.open("rb") as stream:
            outcome = import_extract(
                audit_code=audit,
                stream=stream,
                file_name=path.name,
                extract_date=EXTRACT_DATE,
                actor=Actor.command_line(name="bench"),
            )
        if not outcome.accepted:
            raise SystemExit(f"the {audit} bench extract was refused: {outcome.as_json()['errors'][:3]}")
        release = outcome.release
        print(f"{audit}: imported {rows:,} rows in {time.perf_counter() - start:.0f} s", flush=True)
    if not ComputationRun.objects.filter(release=release, is_current=True).exists():
        start = time.perf_counter()
        run = start_run(release=release)
        run.refresh_from_db()
        print(
            f"{audit}: computed {run.total} indicators in {time.perf_counter() - start:.0f} s ({run.status})",
            flush=True,
        )
    else:
        print(f"{audit}: release {release.version} ({rows:,} rows) and its results already loaded")


def page_urls(env: dict[str, str]) -> dict[str, list[str]]:
    """A few URLs of each page type, read from the bench database (in a subprocess with the server's settings)."""
    code = (
        "import django, json; django.setup()\n"
        "from django.templatetags.static import static\n"
        "from dashboards.selectors import shown_runs\n"
        "from indicators.models import IndicatorResult\n"
        "from indicators.registry import indicators_for\n"
        "runs = shown_runs()\n"
        "trusts = list(IndicatorResult.objects.filter(run=runs['bowel'], level='provider').order_by('organisation')"
        ".values_list('organisation', flat=True).distinct())\n"
        "alliances = list(IndicatorResult.objects.filter(run=runs['bowel'], level='alliance').order_by('organisation')"
        ".values_list('organisation', flat=True).distinct())\n"
        "indicators = [(a, d.code) for a in ('bowel', 'lung') for d in indicators_for(a)]\n"
        "print(json.dumps({'trusts': trusts[::len(trusts) // 12 or 1][:12], 'alliances': alliances[:6],"
        " 'indicators': indicators, 'css': static('css/site.css')}))\n"
    )
    import json

    found = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        ).stdout
    )
    trusts, indicators = found["trusts"], found["indicators"]
    return {
        "static file": [found["css"]],
        "home": ["/"],
        "trust dashboard": [f"/trusts/{t}/" for t in trusts],
        "indicator page": [f"/audits/{a}/indicators/{c}/" for a, c in indicators],
        "indicator highlight": [
            f"/audits/{a}/indicators/{c}/?highlight={t}" for (a, c), t in zip(indicators, trusts, strict=False)
        ],
        "alliance page": [f"/alliances/{a}/" for a in found["alliances"]],
        "trend page": [f"/trusts/{t}/trends/bowel/{c}/" for t in trusts[:6] for _, c in indicators[:4]],
        "audit page": ["/audits/bowel/", "/audits/lung/"],
        "api results": [f"/api/v1/results/?audit={a}&indicator={c}" for a, c in indicators],
        "api results csv": [
            f"/api/v1/results/?audit={a}&indicator={c}&format=csv&page_size=1000" for a, c in indicators
        ],
    }


def get(port: int, path: str, timeout: float = 30) -> tuple[int, int]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Accept-Encoding": "gzip", "Host": "127.0.0.1"})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}")
        return response.status, len(body)
    finally:
        connection.close()


def load(port: int, paths: list[str], clients: int, seconds: float) -> dict[str, float]:
    """Closed loop: each client sends its next request as soon as the last one is answered."""
    latencies: list[float] = []
    sizes: list[int] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    errors: list[Exception] = []

    def client(offset: int) -> None:
        mine, size_total, i = [], 0, offset
        while time.perf_counter() < deadline:
            path = paths[i % len(paths)]
            i += 1
            start = time.perf_counter()
            try:
                _, size = get(port, path)
            except Exception as exc:  # noqa: BLE001 - reported after the run
                errors.append(exc)
                return
            mine.append(time.perf_counter() - start)
            size_total += size
        with lock:
            latencies.extend(mine)
            sizes.append(size_total)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"requests failed: {errors[:3]}")
    latencies.sort()
    count = len(latencies)
    return {
        "count": count,
        "p50": 1000 * statistics.median(latencies),
        "p95": 1000 * latencies[min(count - 1, int(0.95 * count))],
        "rps": count / elapsed,
        "kb": sum(sizes) / max(count, 1) / 1024,
    }


def wait_until_up(port: int) -> None:
    for _ in range(100):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/", headers={"Host": "127.0.0.1"})
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


if __name__ == "__main__":
    main()
