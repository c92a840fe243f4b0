"""System check: the indicators and outlier policy of every audit definition file are well formed, before any
command runs.

Registered in ``IndicatorsConfig.ready()``. The audits app's check (``audits/checks.py``) reports
files that do not load; this one parses the indicators, their conditions and risk models, and the
outlier policy (``indicators.outlier_policy``) of the files that do. ``definition_problems`` runs both,
for ``python manage.py check_definition``.

Only yaml and the standard library are imported: the check runs at every start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from django.apps import AppConfig
from django.core import checks

from audits.checks import Problem, concerns, deployed_paths, load_files
from audits.schema import AuditDefinition, DefinitionError
from indicators.definitions import parse_indicators
from indicators.outlier_policy import parse_policy


def indicator_problems(loaded: Iterable[tuple[Path, AuditDefinition]]) -> list[Problem]:
    """The first problem in the indicators, then the outlier policy, of each loaded definition."""
    problems: list[Problem] = []
    for path, definition in loaded:
        try:
            parse_indicators(definition)
            parse_policy(definition)
        except DefinitionError as exc:
            problems.append(Problem.of(path, exc))
    return problems


def definition_problems(paths: Sequence[Path]) -> list[Problem]:
    """Everything the start-up checks would refuse in these files, in file order."""
    loaded, problems = load_files(paths)
    problems += indicator_problems(loaded)
    order = {path: index for index, path in enumerate(paths)}
    return sorted(problems, key=lambda problem: order[problem.path])


def check_indicator_definitions(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every indicator and outlier policy of every definition file that loads is well formed."""
    if not concerns("indicators", app_configs):
        return []
    loaded, _ = load_files(deployed_paths())
    return [problem.as_check() for problem in indicator_problems(loaded)]
