"""Where audit definitions are found: every *.yaml in settings.AUDIT_DEFINITION_DIRS."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from django.conf import settings

from audits.schema import AuditDefinition, DefinitionError, load_definition


@lru_cache(maxsize=1)
def _load_all(dirs: tuple[str, ...]) -> dict[str, AuditDefinition]:
    found: dict[str, AuditDefinition] = {}
    for folder in dirs:
        for path in sorted(Path(folder).glob("*.yaml")):
            definition = load_definition(path)
            if definition.code in found:
                raise DefinitionError(
                    f"{path.name}: audit code {definition.code} is already defined in {found[definition.code].source}"
                )
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
