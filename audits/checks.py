"""System check: every audit definition file loads, before any command runs.

Registered in ``AuditsConfig.ready()``, so ``runserver``, ``migrate`` and every other command
stop on a malformed definition (the top level, ``extract``, its columns and rules) in any folder
of ``AUDIT_DEFINITION_DIRS``. The indicators app checks the indicators of the files that load
(``indicators/checks.py``); ``python manage.py check_definition PATH`` runs both on a file
before it is deployed.

Only yaml and the standard library are imported: the check runs at every start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from audits.registry import definition_paths, duplicate_code
from audits.schema import AuditDefinition, DefinitionError, load_definition

TAG = "definitions"
UNKNOWN_KEY = "definitions.E001"  # a key not allowed where it is (misspelt, or of another construct)
MALFORMED = "definitions.E002"  # anything else: unreadable YAML, a bad value, a column the extract lacks
DUPLICATE_CODE = "definitions.E003"  # two files declare the same audit code
HINT = (
    "Fix the definition file (README, 'Audit definition files'); "
    "`python manage.py check_definition PATH` checks a file before it is deployed."
)


@dataclass(frozen=True)
class Problem:
    """One refused definition file: where it is, and why."""

    path: Path
    error: DefinitionError
    id: str

    @classmethod
    def of(cls, path: Path, error: DefinitionError) -> Problem:
        return cls(path, error, UNKNOWN_KEY if error.key is not None else MALFORMED)

    def as_dict(self) -> dict[str, str | None]:
        """The ``check_definition --json`` shape."""
        return {
            "id": self.id,
            "file": str(self.path),
            "entry": self.error.entry or None,
            "key": self.error.key,
            "message": self.error.located,
        }

    def as_check(self) -> checks.Error:
        return checks.Error(self.error.located, hint=HINT, obj=str(self.path), id=self.id)


def load_files(paths: Iterable[Path]) -> tuple[list[tuple[Path, AuditDefinition]], list[Problem]]:
    """Load each file: the definitions that load, and the problems of the others.

    A file whose audit code an earlier file already declared is a problem, but its definition is
    still returned so that its indicators are checked too.
    """
    loaded: list[tuple[Path, AuditDefinition]] = []
    problems: list[Problem] = []
    codes: dict[str, AuditDefinition] = {}
    for path in paths:
        try:
            definition = load_definition(path)
        except DefinitionError as exc:
            problems.append(Problem.of(path, exc))
            continue
        if definition.code in codes:
            problems.append(Problem(path, duplicate_code(definition, codes[definition.code]), DUPLICATE_CODE))
        else:
            codes[definition.code] = definition
        loaded.append((path, definition))
    return loaded, problems


def deployed_paths() -> list[Path]:
    """The definition files the site loads: every *.yaml in ``AUDIT_DEFINITION_DIRS``."""
    return definition_paths(settings.AUDIT_DEFINITION_DIRS)


def concerns(app_label: str, app_configs: Sequence[AppConfig] | None) -> bool:
    """Whether a check run (``manage.py check [APP ...]``) covers this app."""
    return app_configs is None or any(config.label == app_label for config in app_configs)


def check_audit_definitions(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every definition file loads, and no two declare the same audit."""
    if not concerns("audits", app_configs):
        return []
    _, problems = load_files(deployed_paths())
    return [problem.as_check() for problem in problems]
