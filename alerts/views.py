"""Pages of the alerts: a signed-in user's subscriptions, and the one-click unsubscribe of a digest's link.

No view sends email (the Celery tasks do: alerts.services.send_digests)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts import roles
from alerts import services
from alerts.models import Subscription


def _back(request: HttpRequest) -> HttpResponse:
    """To the page the form was on (this site's only), else the subscriptions page."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("alerts:subscriptions")


@login_required
def subscriptions(request: HttpRequest) -> HttpResponse:
    user: Any = request.user  # signed in (login_required)
    mine = list(Subscription.objects.filter(user=user).order_by("kind", "code"))
    names = {}
    for item in mine:
        try:
            names[item.pk] = services.target(item.kind, item.code).name
        except services.UnknownTarget:
            names[item.pk] = item.code
    return render(
        request,
        "alerts/subscriptions.html",
        {
            "subscriptions": [(item, names[item.pk]) for item in mine],
            "kinds": Subscription.Kind.choices,
            "nav": roles.navigation(request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":  # e.g. back from signing in
        return redirect("alerts:subscriptions")
    kind, code = request.POST.get("kind", ""), request.POST.get("code", "")
    try:
        found = services.target(kind, code)
        _, created = services.subscribe(request.user, kind, code)
    except services.UnknownTarget as exc:
        messages.error(request, f"Not followed: {exc}.")
        return _back(request)
    if not getattr(request.user, "email", ""):
        messages.warning(request, "Your account has no email address: ask the site's staff to add one.")
    messages.success(
        request,
        f"You follow {found.name}: one email for each new release." if created else f"You already follow {found.name}.",
    )
    return _back(request)


@login_required
@require_http_methods(["POST"])
def unsubscribe(request: HttpRequest) -> HttpResponse:
    kind, code = request.POST.get("kind", ""), request.POST.get("code", "")
    try:
        found = services.target(kind, code)
        removed = services.unsubscribe(request.user, kind, code)
    except services.UnknownTarget as exc:
        messages.error(request, f"{exc}.")
        return _back(request)
    messages.success(request, f"You no longer follow {found.name}." if removed else f"You did not follow {found.name}.")
    return _back(request)


# The link in a digest: GET shows a confirm page; POST unsubscribes. The signed token is the authority, and mail
# programs' one-click unsubscribe (RFC 8058) POSTs "List-Unsubscribe=One-Click" with no session and no CSRF
# token: so no CSRF check here (a forged POST would need a valid signature for that very subscription).
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe_link(request: HttpRequest, token: str) -> HttpResponse:
    subscription = services.subscription_for_token(token)
    context = {"nav": roles.navigation(request.user), "token": token}
    if subscription is None:
        return render(request, "alerts/unsubscribe.html", {**context, "invalid": True}, status=404)
    try:
        name = services.target(subscription.kind, subscription.code).name
    except services.UnknownTarget:
        name = subscription.code
    if request.method == "POST":
        subscription.delete()
        return render(request, "alerts/unsubscribe.html", {**context, "done": True, "name": name})
    return render(request, "alerts/unsubscribe.html", {**context, "name": name})
