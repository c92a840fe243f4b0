"""Helpers for page pieces built as HTML in Python rather than by a template (a page build renders thousands of
rows and sections, and a template's per-variable cost was most of that build): escaping and links."""

from __future__ import annotations

from functools import lru_cache
from html import escape
from typing import Any

from django.urls import get_script_prefix, reverse


def text(value: Any) -> str:
    """A value as the page shows it, escaped (``django.utils.html.escape`` without its lazy-string wrapper)."""
    return escape(str(value))


@lru_cache(maxsize=8192)
def _reversed(prefix: str, name: str, args: tuple[str, ...]) -> str:
    return reverse(name, args=args)


def url(name: str, *args: str) -> str:
    """``reverse(name, args)``, escaped; reversed once per script prefix, name and arguments."""
    return text(_reversed(get_script_prefix(), name, args))
