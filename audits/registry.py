"""Where audit definitions are found: every *.yaml in settings.AUDIT_DEFINITION_DIRS."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from audits.schema import AuditDefinition, DefinitionError, load_definition


def definition_paths(dirs: Iterable[str | Path]) -> list[Path]:
    """The definition files of these folders, in the order they are loaded."""
    return [path for folder in dirs for path in sorted(Path(folder).glob("*.yaml"))]


def duplicate_code(definition: AuditDefinition, earlier: AuditDefinition) -> DefinitionError:
    return DefinitionError(
        f"audit code {definition.code} is already defined in {earlier.source}", file=definition.source, key="code"
    )


@lru_cache(maxsize=1)
def _load_all(dirs: tuple[str, ...]) -> dict[str, AuditDefinition]:
    found: dict[str, AuditDefinition] = {}
    for path in definition_paths(dirs):
        definition = load_definition(path)
        if definition.code in found:
            raise duplicate_code(definition, found[definition.code])
        found[definition.code] = definition
    return found


def all_definitions() -> dict[str, AuditDefinition]:
    """Every audit definition, by code (read once per process)."""
    return _load_all(tuple(str(d) for d in settings.AUDIT_DEFINITION_DIRS))


def get_definition(code: str) -> AuditDefinition:
    definitions = all_definitions()
    if code not in definitions:
        known = ", ".join(sorted(definitions)) or "none"
        raise KeyError(f"unknown audit {code!r} (known audits: {known})")
    return definitions[code]


def reset_cache() -> None:
    """Forget loaded definitions (tests, or after adding a file)."""
    _load_all.cache_clear()
