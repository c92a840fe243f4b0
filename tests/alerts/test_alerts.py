"""Subscriptions and digests (issue 13 item 6), on two releases with a planted truth (tests/alerts/world.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail, signing
from django.urls import reverse

from alerts import services, tasks
from alerts.models import Digest, Subscription
from indicators.models import ComputationRun
from tests.alerts import world
from tests.auth import Client
from tests.conftest import run_command

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-alert-tests-only-0123"  # noqa: S105 - a test user's password


@pytest.fixture
def story(settings):
    settings.SITE_URL = "https://audits.example.org"
    return world.build()


def person(name: str, *, email: bool = True, analyst: bool = False) -> User:
    user = User.objects.create_user(name, email=f"{name}@example.org" if email else "", password=PASSWORD)
    if analyst:
        user.groups.add(Group.objects.get_or_create(name="analysts:bowel")[0])
    return user


def test_a_subscriber_gets_exactly_one_digest_naming_the_new_flags(story):
    t = story["trusts"]
    subscription, _ = services.subscribe(person("clinician"), "trust", t["APPEARS"].code.lower())
    assert subscription.code == t["APPEARS"].code
    assert tasks.send_digests.delay(story["second"].pk).get() == 1
    (email,) = mail.outbox
    assert email.to == ["clinician@example.org"]
    assert "1 new flag" in email.subject and t["APPEARS"].name in email.subject
    assert f"{t['APPEARS'].name}: new alarm on Discussed at a multidisciplinary team meeting" in email.body
    assert "lower than expected" in email.body and "which is worse" in email.body
    assert "special cause variation (concern, lower) in 2025/26 Q1" in email.body
    assert t["CLEARS"].name not in email.body  # another trust's news
    changes = reverse("release-changes", args=["bowel", story["second"].pk])
    assert f"https://audits.example.org{changes}" in email.body
    unsubscribe = services.unsubscribe_url(subscription)
    assert unsubscribe.startswith("https://audits.example.org/alerts/unsubscribe/") and unsubscribe in email.body
    assert email.extra_headers["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # A retried task, or the run's end, sends none again.
    assert tasks.send_digests.delay(story["second"].pk).get() == 0
    run = ComputationRun.objects.get(release=story["second"], is_current=True)
    assert tasks.send_run_digests.delay(run.pk).get() == 0
    assert len(mail.outbox) == 1
    assert Digest.objects.get().subscription == subscription


def test_a_digest_obeys_the_suppression_rules_as_the_page_does(story):
    t = story["trusts"]
    services.subscribe(person("public-reader"), "audit", "bowel")
    services.subscribe(person("analyst", analyst=True), "audit", "bowel")
    assert tasks.send_digests(story["second"].pk) == 2
    public = next(m for m in mail.outbox if m.to == ["public-reader@example.org"])
    exact = next(m for m in mail.outbox if m.to == ["analyst@example.org"])
    for role in ("APPEARS", "CLEARS", "ESCALATES"):
        assert t[role].name in public.body and t[role].name in exact.body
    for role in ("HIDDEN_NOW", "HIDDEN_THEN"):
        assert t[role].name not in public.body and t[role].name in exact.body
    assert "England:" in public.body and "-2.0 percentage points" in public.body


def test_an_alliance_subscriber_hears_of_its_trusts(story):
    t = story["trusts"]
    services.subscribe(person("lead"), "alliance", t["CLEARS"].alliance_id)
    tasks.send_digests(story["second"].pk)
    (email,) = mail.outbox
    assert f"{t['CLEARS'].name}: Discussed at a multidisciplinary team meeting is now within the expected range" in (
        email.body
    )


def test_only_the_newest_published_release_sends_and_only_to_those_who_can_receive(story):
    services.subscribe(person("clinician"), "audit", "bowel")
    services.subscribe(person("no-address", email=False), "audit", "bowel")
    inactive = person("gone")
    inactive.is_active = False
    inactive.save()
    services.subscribe(inactive, "audit", "bowel")
    assert tasks.send_digests(story["first"].pk) == 0  # an older release (e.g. recomputed) tells no one
    assert tasks.send_digests(story["second"].pk) == 1
    assert [m.to for m in mail.outbox] == [["clinician@example.org"]]


def test_the_signed_link_unsubscribes_and_a_tampered_or_borrowed_one_is_refused(story):
    mine, _ = services.subscribe(person("clinician"), "trust", story["trusts"]["APPEARS"].code)
    theirs, _ = services.subscribe(person("other"), "trust", story["trusts"]["CLEARS"].code)
    client = Client(enforce_csrf_checks=True)
    url = services.unsubscribe_url(mine).removeprefix("https://audits.example.org")
    page = client.get(url)
    assert page.status_code == 200 and "Stop emails about" in page.content.decode()
    assert Subscription.objects.filter(pk=mine.pk).exists()  # a GET (a link scanner) changes nothing
    token = url.rsplit("/", 2)[-2]
    assert client.post(url[: -len(token) - 1] + token[:-2] + "xx/").status_code == 404
    value = signing.loads(token, salt=services.UNSUBSCRIBE_SALT)
    borrowed = signing.dumps([theirs.pk, *value[1:]], salt=services.UNSUBSCRIBE_SALT + "-other")
    assert client.post(reverse("alerts:unsubscribe", args=[borrowed])).status_code == 404
    # Re-signed with the right salt but for the other subscription's id: the user and code no longer match it.
    forged = signing.dumps([theirs.pk, *value[1:]], salt=services.UNSUBSCRIBE_SALT)
    assert services.subscription_for_token(forged) is None
    assert Subscription.objects.filter(pk=theirs.pk).exists()
    # One click from a mail program: a POST with no session and no CSRF token (RFC 8058).
    done = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "no more emails" in done.content.decode()
    assert not Subscription.objects.filter(pk=mine.pk).exists()
    assert client.post(url).status_code == 404  # used once


def test_the_subscribe_command(story):
    person("clinician")
    t = story["trusts"]["APPEARS"]
    code, out, _ = run_command("subscribe", "clinician", "--trust", t.code.lower())
    assert code == 0 and f"clinician now follows {t.name} ({t.code})" in out
    assert run_command("subscribe", "clinician", "--trust", t.code)[1].startswith("clinician already follows")
    assert run_command("subscribe", "clinician", "--alliance", t.alliance_id)[0] == 0
    assert run_command("subscribe", "clinician", "--audit", "bowel")[0] == 0
    assert set(Subscription.objects.values_list("kind", "code")) == {
        ("trust", t.code),
        ("alliance", t.alliance_id),
        ("audit", "bowel"),
    }
    assert f"trust\t{t.code}" in run_command("subscribe", "clinician")[1]
    with pytest.raises(Exception, match="no NHS trust with code 'NOPE'"):
        run_command("subscribe", "clinician", "--trust", "NOPE")
    with pytest.raises(Exception, match="no user called"):
        run_command("subscribe", "nobody", "--audit", "bowel")
    code, out, _ = run_command("subscribe", "clinician", "--audit", "bowel", "--remove")
    assert code == 0 and "no longer follows" in out
    assert not Subscription.objects.filter(kind="audit").exists()


def test_the_subscriptions_page_and_the_follow_buttons(client, story):
    t = story["trusts"]["APPEARS"]
    trust_page = reverse("trust", args=[t.code])
    assert "Sign in to get email alerts" in client.get(trust_page).content.decode()
    assert client.get(reverse("alerts:subscriptions")).status_code == 302  # sign in first
    user = person("clinician")
    client.force_login(user)
    assert "Email me what each release changes for" in client.get(trust_page).content.decode()
    response = client.post(reverse("alerts:subscribe"), {"kind": "trust", "code": t.code, "next": trust_page})
    assert response.status_code == 302 and response["Location"] == trust_page
    off_site = client.post(
        reverse("alerts:subscribe"), {"kind": "audit", "code": "bowel", "next": "https://evil.example/"}
    )
    assert off_site["Location"] == reverse("alerts:subscriptions")
    page = client.get(reverse("alerts:subscriptions")).content.decode()
    assert t.name in page and "Stop following" in page
    client.post(reverse("alerts:unsubscribe-own"), {"kind": "trust", "code": t.code})
    assert list(Subscription.objects.values_list("kind", flat=True)) == ["audit"]
    assert client.post(reverse("alerts:subscribe"), {"kind": "trust", "code": "NOPE"}).status_code == 302
    assert Subscription.objects.count() == 1
    assert len(mail.outbox) == 0  # no request sends email
