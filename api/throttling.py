"""API throttles: per address for anonymous callers, per account for tokens and sessions.

The counts live in the cache (shared by every worker when it is Redis). The rates are read from
``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` at each request, not once at import as DRF's own
classes do, so a changed setting (a test's, or an operator's) takes effect.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class _CurrentRates:
    scope: str | None

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")
        return str(rate) if rate else None


class AnonymousThrottle(_CurrentRates, AnonRateThrottle):
    """Anonymous callers: ``anon`` requests per period from one address (the X-Forwarded-For rule of NUM_PROXIES)."""


class AccountThrottle(_CurrentRates, UserRateThrottle):
    """Signed-in callers and API tokens: ``user`` requests per period for one account."""

    def get_cache_key(self, request, view):
        # DRF's UserRateThrottle counts anonymous callers by address too; they have AnonymousThrottle.
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)
