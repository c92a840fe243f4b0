"""Limits on the API: throttles (429), the anonymous page size, and a results cache that random query
strings cannot grow and whose entries stay small."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.test import RequestFactory
from rest_framework.request import Request

from accounts.services import create_token
from api.pagination import Pagination

pytestmark = pytest.mark.django_db


def rates(settings, anon: str, user: str) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": anon, "user": user}}


def test_the_production_rates_are_set(settings):
    from cancerplan import settings as production  # the module as loaded, before the tests' own high rates

    assert production.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] == {"anon": "60/minute", "user": "600/minute"}
    assert production.REST_FRAMEWORK["NUM_PROXIES"] == 0  # X-Forwarded-For is not believed without a proxy


def test_anonymous_callers_are_throttled_per_address(client, settings):
    rates(settings, anon="3/minute", user="1000/minute")
    codes = [client.get("/api/v1/alliances/", REMOTE_ADDR="192.0.2.1").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    last = client.get("/api/v1/alliances/", REMOTE_ADDR="192.0.2.1")
    assert last.status_code == 429 and int(last["Retry-After"]) > 0
    assert "detail" in last.json()
    assert client.get("/api/v1/alliances/", REMOTE_ADDR="192.0.2.2").status_code == 200  # another address


def test_a_made_up_forwarded_for_header_does_not_escape_the_throttle(client, settings):
    rates(settings, anon="2/minute", user="1000/minute")
    codes = [
        client.get("/api/v1/alliances/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code
        for i in range(3)
    ]
    assert codes == [200, 200, 429]


def test_tokens_are_throttled_per_account(client, settings):
    rates(settings, anon="1000/minute", user="3/minute")
    _, key = create_token(user=User.objects.create_user("pipeline"), name="nightly", via="cli")
    _, other = create_token(user=User.objects.create_user("someone-else"), name="nightly", via="cli")
    codes = [client.get("/api/v1/alliances/", HTTP_AUTHORIZATION=f"Token {key}").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert client.get("/api/v1/alliances/", HTTP_AUTHORIZATION=f"Token {other}").status_code == 200


def test_anonymous_callers_are_held_to_the_anonymous_rate_alone(client, settings):
    """A lower account rate does not also count anonymous callers by address."""
    rates(settings, anon="5/minute", user="2/minute")
    codes = [client.get("/api/v1/alliances/", REMOTE_ADDR="192.0.2.1").status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]


def test_the_schema_documents_429(client):
    schema = client.get("/api/v1/schema/", {"format": "json"}).json()
    assert "429" in schema["paths"]["/api/v1/results/"]["get"]["responses"]


def page_size(user, **query) -> int | None:
    request = Request(RequestFactory().get("/api/v1/results/", query))
    request.user = user
    return Pagination().get_page_size(request)


def test_an_anonymous_page_holds_at_most_1000_rows():
    from django.contrib.auth.models import AnonymousUser

    assert page_size(AnonymousUser(), page_size="10000") == 1000
    assert page_size(AnonymousUser(), page_size="500") == 500
    assert page_size(User.objects.create_user("clin"), page_size="10000") == 10_000


def cached_pages() -> int:
    """Entries of the API's results cache."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        client = backend._cache.get_client()
        return sum(1 for _ in client.scan_iter(match=f"{backend.key_prefix}:*api-results:*"))
    return sum(1 for key in backend._cache if "api-results:" in key)  # LocMemCache


def test_large_pages_for_the_public_are_cut_to_1000_rows_and_signed_in_callers_keep_theirs(client, world):
    public = client.get("/api/v1/results/", {"page_size": 5000}).json()
    assert public["count"] > 1000 and len(public["results"]) == 1000
    assert "page_size=1000" in public["next"]
    analyst = client.get("/api/v1/results/", {"page_size": 5000}, **world.auth("analyst")).json()
    assert len(analyst["results"]) == min(5000, analyst["count"]) > 1000


def test_unknown_parameters_share_one_cache_entry_and_leave_the_links(client, world):
    assert cached_pages() == 0
    first = client.get("/api/v1/results/", {"audit": "bowel", "page_size": 10, "x": "r4nd0m-1"})
    second = client.get("/api/v1/results/", {"page_size": "010", "x": "r4nd0m-2", "audit": "bowel", "y": ""})
    assert first.status_code == second.status_code == 200
    assert cached_pages() == 1
    assert first.json() == second.json()
    assert "x=" not in first.json()["next"] and "audit=bowel" in first.json()["next"]
    client.get("/api/v1/results/", {"audit": "bowel", "page_size": 10, "page": 2})
    assert cached_pages() == 2  # a page the filters tell apart is an entry of its own


def test_pages_too_large_or_empty_are_not_kept(client, world):
    analyst = world.auth("analyst")
    assert client.get("/api/v1/results/", {"page_size": 2000}, **analyst).status_code == 200
    assert client.get("/api/v1/results/", {"audit": "no-such-audit"}).json()["count"] == 0
    assert client.get("/api/v1/results/", {"release": "not-a-number"}).status_code == 400
    assert cached_pages() == 0
