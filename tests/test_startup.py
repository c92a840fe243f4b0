"""A management command that does no statistics starts fast: loading settings, apps, URLs and the
system checks imports none of the heavy numerical libraries. They are imported where they are used.

Checked in a fresh interpreter (this test process has long since imported them all).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# numpy (about 0.1 s) is allowed: the small statistics that pages and the API use are numpy arrays.
HEAVY = ("pandas", "scipy", "statsmodels", "plotly", "pyarrow")

PROBE = """
import json, sys
import django
django.setup()
from django.core import checks
from django.urls import get_resolver
get_resolver().url_patterns  # imports every view module, as the URL check does
errors = checks.run_checks(include_deployment_checks=False)
from django.core.management import load_command_class
for app, name in [("audits", "list_releases"), ("audits", "withdraw_release"), ("indicators", "indicator_results")]:
    load_command_class(app, name)
print(json.dumps({"errors": [str(e) for e in errors], "loaded": sorted(m for m in HEAVY_NAMES if m in sys.modules)}))
"""


def test_loading_settings_urls_checks_and_plain_commands_imports_no_heavy_library() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cancerplan.settings"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE.replace("HEAVY_NAMES", repr(HEAVY))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["errors"] == []
    assert outcome["loaded"] == []


COMMAND_PROBE = """
import json, sys
import django
django.setup()
from django.core.management import load_command_class
command = load_command_class("audits", "import_extract")
command.check(tags=command.requires_system_checks)
print(json.dumps(sorted(m for m in ("celery", "kombu") if m in sys.modules)))
"""


def test_a_command_that_queues_no_task_loads_no_celery() -> None:
    """Celery is loaded by the task modules, when a task is queued or run, not by every command's start-up."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cancerplan.settings"}
    result = subprocess.run(
        [sys.executable, "-c", COMMAND_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
