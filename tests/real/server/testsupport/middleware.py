"""
Records every request to the refresh, revocation and API endpoints (what a test asserts on:
"exactly one refresh call", "no rotated-away refresh token presented again") and injects the
refresh-endpoint faults. Lives in the testsupport app; the libraries are not touched.

A record holds the method, content type, the *names* of the body fields, grant_type and
token_type_hint values, a fingerprint of the presented refresh token (first 12 hex digits of its
SHA-256, never the token), the status answered, the error code of an error answer (`code` or
`error`), the names of the fields of a 2xx answer, and timing. Token values are never recorded.
"""
import hashlib
import json
import time
from urllib.parse import parse_qs

from django.http import JsonResponse

from . import state

# Path → kind. Requests to these are recorded; the refresh kinds can be made "down".
REFRESH_KINDS = {
    "/api/token/refresh/": "simplejwt",
    "/api/auth/token/refresh/": "simplejwt-clear",
    "/api/auth/cookie/refresh/": "simplejwt-cookie",
    "/o/token/": "oauth",
}
OTHER_KINDS = {
    "/o/revoke_token/": "oauth-revoke",
    "/api/token/blacklist/": "simplejwt-blacklist",
    "/api/auth/cookie/logout/": "simplejwt-cookie-revoke",
    "/api/token/": "simplejwt-login",
}
# Kinds whose refresh token may come in the httpOnly cookie instead of the body.
COOKIE_KINDS = ("simplejwt-cookie", "simplejwt-cookie-revoke")
API_PREFIXES = ("/api/me/", "/api/echo/", "/oapi/")
REFRESH_FIELDS = ("refresh", "refresh_token")
COOKIE = "refresh_token"


def fingerprint(token):
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:12] if token else None


def body_fields(request):
    """(field names, the dict itself) of a JSON or form body; ([], {}) for anything else."""
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    try:
        raw = request.body  # cached by Django: the view and DRF read it again
    except Exception:
        return [], {}
    if not raw:
        return [], {}
    data = {}
    if content_type == "application/json":
        try:
            parsed = json.loads(raw)
            data = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            data = {}
    elif content_type == "application/x-www-form-urlencoded":
        data = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}
    return sorted(data.keys()), data


def short(value):
    return value if isinstance(value, str) and len(value) <= 64 else None


class RecordAndFaultMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        kind = REFRESH_KINDS.get(path) or OTHER_KINDS.get(path)
        if kind is None and path.startswith(API_PREFIXES):
            kind = "api"
        if kind is None:
            return self.get_response(request)

        seq = state.next_seq()
        started = time.monotonic()
        record = {
            "seq": seq,
            "t": time.time(),
            "kind": kind,
            "path": path,
            "method": request.method,
            "content_type": request.META.get("CONTENT_TYPE", "") or None,
        }
        if kind == "api":
            record["bearer"] = request.META.get("HTTP_AUTHORIZATION", "").startswith("Bearer ")
        else:
            fields, data = body_fields(request)
            record["fields"] = fields
            record["grant_type"] = short(data.get("grant_type"))
            record["token_type_hint"] = short(data.get("token_type_hint"))
            record["client_id"] = short(data.get("client_id"))
            presented = next((data[f] for f in REFRESH_FIELDS if isinstance(data.get(f), str)), None)
            if kind == "oauth-revoke":
                presented = data.get("token") if isinstance(data.get("token"), str) else None
            record["cookie"] = COOKIE in request.COOKIES
            if presented is None and kind in COOKIE_KINDS:
                presented = request.COOKIES.get(COOKIE)
            record["token_fp"] = fingerprint(presented)
            record["credentials_header"] = "HTTP_AUTHORIZATION" in request.META

        response = None
        if kind in REFRESH_KINDS.values():
            faults = state.current_faults()
            if faults["down"]:
                response = JsonResponse({"detail": "refresh endpoint down (test fault)"}, status=faults["down_status"])
                if faults["retry_after"] is not None:
                    response["Retry-After"] = str(faults["retry_after"])
                record["fault"] = "down"
            elif faults["latency_ms"]:
                time.sleep(faults["latency_ms"] / 1000)
        if response is None:
            response = self.get_response(request)

        record["status"] = response.status_code
        record["ms"] = round((time.monotonic() - started) * 1000, 1)
        if kind != "api":
            record.update(describe_response(response))
        state.add(record)
        return response


def describe_response(response):
    """Error code (`code`, else `error`) of an error answer; field names of a 2xx answer."""
    out = {"error": None, "response_fields": None}
    if response.get("Content-Type", "").split(";")[0].strip() != "application/json":
        return out
    try:
        body = json.loads(response.content)
    except (ValueError, AttributeError):
        return out
    if not isinstance(body, dict):
        return out
    if 200 <= response.status_code < 300:
        out["response_fields"] = sorted(body.keys())
    else:
        out["error"] = short(body.get("code")) or short(body.get("error"))
        out["response_fields"] = sorted(body.keys())
    return out
