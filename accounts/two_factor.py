"""The second step of signing in, for analysts and staff: a one-time code from an authenticator app (TOTP).

After the password (Django's sign-in page), ``accounts.security.TwoFactorRequiredMiddleware`` sends an
analyst or member of staff here. With a confirmed device they type its current code; without one they
enrol first: the page shows a QR code and the secret, and the first good code confirms the device. Either
way a good code marks the session verified (``django_otp.login``) and they go on to the page they asked for.
Wrong codes slow down (django-otp's throttling doubles the wait after each failure).
"""

from __future__ import annotations

import logging
from base64 import b32encode

import django_otp
import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.security import needs_one_time_code

log = logging.getLogger("cancerplan.security")
DEVICE_NAME = "Authenticator app"


class CodeForm(forms.Form):
    token = forms.CharField(
        label="Code from your authenticator app",
        min_length=6,
        max_length=8,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9]*", "autofocus": True}
        ),
    )


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return str(settings.LOGIN_REDIRECT_URL if settings.LOGIN_REDIRECT_URL.startswith("/") else "/")


def _qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// address as an SVG QR code (drawn by us: markup only, no script or style)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    return mark_safe(image.to_string(encoding="unicode"))  # noqa: S308 - our own SVG, built from our own data


@sensitive_post_parameters("token")
@never_cache
@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    """Verify a one-time code (or enrol an authenticator app first), then go on to ``next``."""
    user = request.user
    if not needs_one_time_code(user):
        return HttpResponseRedirect(_next_url(request))
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    enrolling = device is None
    if device is None:
        # One pending device per account, kept until confirmed, so the QR code does not change on reload.
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, _ = device.verify_is_allowed()
        if not allowed:
            form.add_error("token", "Too many wrong codes: wait a few seconds, then type the newest code.")
        elif device.verify_token(form.cleaned_data["token"]):
            if enrolling:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                log.info("two-factor device confirmed: username=%r", user.get_username())
            request.session.cycle_key()  # a new session id for the now fully signed-in session
            django_otp.login(request, device)
            return HttpResponseRedirect(_next_url(request))
        else:
            log.warning("wrong one-time code: username=%r", user.get_username())
            form.add_error("token", "That code is not right (or has been used). Type the newest code from the app.")
    context = {"form": form, "next": _next_url(request), "enrolling": enrolling}
    if enrolling:
        secret = b32encode(device.bin_key).decode()
        context.update(qr_svg=_qr_svg(device), secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)))
    return render(request, "registration/two_factor.html", context)
