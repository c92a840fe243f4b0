"""Who may do what with an audit's data (the full role matrix is in the README)."""

from __future__ import annotations

from audits.models import analyst_group_name


def is_audit_analyst(user, audit_code: str) -> bool:
    """Analysts of an audit (and staff) upload, withdraw, and see its data-quality reports."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff:
        return True
    cache = getattr(user, "_analyst_groups", None)
    if cache is None:
        cache = set(user.groups.filter(name__startswith="analysts:").values_list("name", flat=True))
        user._analyst_groups = cache
    return analyst_group_name(audit_code) in cache


def analyst_audits(user) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    names = user.groups.filter(name__startswith="analysts:").values_list("name", flat=True)
    return {name.split(":", 1)[1] for name in names}
