"""The embedded default: SQLite and in-process tasks, with nothing configured."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "bowel"


def manage(tmp_path, *args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY"}}
    env.update(DEBUG="true", DATA_DIR=str(tmp_path), CELERY_TASK_ALWAYS_EAGER="")
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_first_run_migrates_and_imports_into_sqlite(tmp_path):
    assert manage(tmp_path, "migrate", "--no-input", "-v0").returncode == 0
    accepted = manage(
        tmp_path,
        "import_extract",
        "--audit",
        "bowel",
        "--extract-date",
        "2025-03-31",
        str(FIXTURES / "valid.csv"),
        "--json",
    )
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout)["rows"] == 4
    refused = manage(
        tmp_path,
        "import_extract",
        "--audit",
        "bowel",
        "--extract-date",
        "2025-03-31",
        str(FIXTURES / "death_before_surgery.csv"),
        "--json",
    )
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["errors"][0]["column"] == "death_date"
    listed = json.loads(manage(tmp_path, "list_releases", "--audit", "bowel", "--json").stdout)
    assert [(r["rows"], r["current"]) for r in listed] == [(4, True)]
    assert (tmp_path / "cancerplan.sqlite3").exists()
