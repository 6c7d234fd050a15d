"""Test-only hooks under /__test/ (never mount these in anything but a test server)."""
import itertools
import json
import time

import django
import oauth2_provider
import rest_framework_simplejwt
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from oauth2_provider.models import AccessToken, get_application_model
from oauth2_provider.models import RefreshToken as OAuthRefreshToken
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from . import state

PUBLIC_CLIENT_ID = "authkeeper-public-client"
PASSWORD = "wonderland"
_names = itertools.count(1)


def body(request):
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        data = {}
    return data if isinstance(data, dict) else {}


@require_GET
def health(request):
    return JsonResponse({
        "ok": True,
        "django": django.get_version(),
        "simplejwt": getattr(rest_framework_simplejwt, "__version__", None),
        "django_oauth_toolkit": oauth2_provider.__version__,
        "last_seq": state.last_seq(),
    })


@csrf_exempt
@require_POST
def reset(request):
    """Forget the records and lift every fault (the database is kept: tests use fresh users)."""
    state.reset_records()
    state.reset_faults()
    return JsonResponse({"ok": True, "last_seq": state.last_seq()})


@require_GET
def calls(request):
    since = int(request.GET.get("since") or 0)
    return JsonResponse({"records": state.snapshot(since), "last_seq": state.last_seq(), "faults": state.current_faults()})


@csrf_exempt
@require_POST
def calls_reset(request):
    state.reset_records()
    return JsonResponse({"ok": True, "last_seq": state.last_seq()})


@csrf_exempt
@require_POST
def fault(request):
    """{down_seconds, status (503), retry_after, latency_ms}: the refresh endpoints answer
    `status` for `down_seconds` seconds from now; `latency_ms` delays every refresh answer."""
    data = body(request)
    with state.lock:
        if "down_seconds" in data:
            state.faults["down_until"] = time.monotonic() + float(data["down_seconds"])
        if "status" in data:
            state.faults["down_status"] = int(data["status"])
        if "retry_after" in data:
            state.faults["retry_after"] = data["retry_after"]
        if "latency_ms" in data:
            state.faults["latency_ms"] = int(data["latency_ms"])
    return JsonResponse(state.current_faults())


@csrf_exempt
@require_POST
def create_user(request):
    """Creates a user (password `wonderland`) and "logs it in" the SimpleJWT way: a token pair
    from RefreshToken.for_user, recorded as outstanding by the blacklist app."""
    data = body(request)
    username = data.get("username") or f"user{next(_names)}-{int(time.time() * 1000) % 10**8}"
    user = get_user_model().objects.create_user(username=username, password=data.get("password") or PASSWORD)
    refresh = RefreshToken.for_user(user)
    return JsonResponse({
        "id": user.pk,
        "username": user.username,
        "password": data.get("password") or PASSWORD,
        "access": str(refresh.access_token),
        "refresh": str(refresh),
    })


@csrf_exempt
@require_POST
def delete_user(request, user_id):
    deleted, _ = get_user_model().objects.filter(pk=user_id).delete()
    return JsonResponse({"deleted": deleted})


@csrf_exempt
@require_POST
def deactivate_user(request, user_id):
    updated = get_user_model().objects.filter(pk=user_id).update(is_active=False)
    return JsonResponse({"updated": updated})


def public_client():
    Application = get_application_model()
    app, _ = Application.objects.get_or_create(
        client_id=PUBLIC_CLIENT_ID,
        defaults={
            "name": "authkeeper tests (public SPA client)",
            "client_type": Application.CLIENT_PUBLIC,
            "authorization_grant_type": Application.GRANT_PASSWORD,
            "skip_authorization": True,
        },
    )
    return app


@csrf_exempt
@require_POST
def oauth_client(request):
    """The public client (no secret) the SPA uses; the initial token pair is then obtained
    through DOT's real /o/token/ with the password grant."""
    app = public_client()
    return JsonResponse({"client_id": app.client_id, "client_type": app.client_type, "grant_type": app.authorization_grant_type})


@csrf_exempt
@require_POST
def oauth_revoke(request):
    """Revokes every DOT grant of a user server-side (as an admin would): each refresh token is
    revoked through DOT's own RefreshToken.revoke() (which deletes its access token too)."""
    user_id = body(request).get("user_id")
    revoked = 0
    with transaction.atomic():
        for rt in OAuthRefreshToken.objects.filter(user_id=user_id, revoked__isnull=True):
            rt.revoke()
            revoked += 1
        dangling, _ = AccessToken.objects.filter(user_id=user_id).delete()
    return JsonResponse({"revoked_refresh_tokens": revoked, "deleted_access_tokens": dangling})


@csrf_exempt
@require_POST
def simplejwt_revoke(request):
    """Revokes every SimpleJWT refresh token of a user server-side (as an admin would in the
    blacklist app's admin): each outstanding token is blacklisted. The access tokens stay valid
    until they expire (SimpleJWT's access tokens are stateless)."""
    user_id = body(request).get("user_id")
    blacklisted = 0
    with transaction.atomic():
        for token in OutstandingToken.objects.filter(user_id=user_id):
            _, created = BlacklistedToken.objects.get_or_create(token=token)
            blacklisted += int(created)
    return JsonResponse({"blacklisted": blacklisted})
