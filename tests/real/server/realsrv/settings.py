"""
One Django project, two unmodified auth servers from PyPI, for the end-to-end tests in tests/real/:

- djangorestframework-simplejwt under /api/ (rotation + blacklist after rotation),
- django-oauth-toolkit under /o/ (a public client, rotating refresh tokens, opaque access tokens),
- the test hooks under /__test/ (testsupport: counters, faults, users), and the repository's
  js/, pkg/ and tests/real/fixture/ served same-origin so the page needs no CORS.

Everything test-specific comes from the environment (set by tests/real/support.mjs):
REAL_DB (the sqlite file, in a per-run temp directory), REAL_ACCESS_TTL (SimpleJWT access token
lifetime, seconds), REAL_OAUTH_TTL (DOT access token lifetime, seconds), AUTHKEEPER_ROOT (the
repository), REAL_LOG=1 (log every request to stderr).
"""
import mimetypes
import os
import tempfile
from datetime import timedelta
from pathlib import Path

SERVER_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = Path(os.environ.get("AUTHKEEPER_ROOT") or SERVER_DIR.parents[2]).resolve()
# Where js/ and pkg/ are served from: this checkout, or another build of the SDK (A/B runs).
SDK_ROOT = Path(os.environ.get("AUTHKEEPER_SDK_ROOT") or REPO_ROOT).resolve()
FIXTURE_DIR = SERVER_DIR.parent / "fixture"

# Served by django.views.static.serve, which asks mimetypes; instantiateStreaming needs this one.
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")

SECRET_KEY = "tests-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "oauth2_provider",
    "realapi",
    "testsupport",
]

MIDDLEWARE = [
    # First: it sees (and counts) every request, and answers 503 for "down" refresh endpoints.
    "testsupport.middleware.RecordAndFaultMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "realsrv.urls"
WSGI_APPLICATION = "realsrv.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        # Never inside the source tree: by hand without REAL_DB, a file in the temp directory.
        "NAME": os.environ.get("REAL_DB") or os.path.join(tempfile.gettempdir(), "authkeeper-real-manual.sqlite3"),
        # runserver is threaded and the browser sends 30 requests at once: WAL lets readers run
        # during a refresh's write; IMMEDIATE transactions queue writers on the busy timeout
        # instead of failing with "database is locked" on a read-to-write upgrade.
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"

# Test users are created by the hooks; the fastest hasher keeps that cheap.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=int(os.environ.get("REAL_ACCESS_TTL", "300"))),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "SIGNING_KEY": SECRET_KEY,
}

OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": int(os.environ.get("REAL_OAUTH_TTL", "300")),
    "REFRESH_TOKEN_EXPIRE_SECONDS": 86400,
    "ROTATE_REFRESH_TOKEN": True,
    # No grace period: a rotated-away refresh token presented again is refused at once
    # (invalid_grant), which is what shows a client race.
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "SCOPES": {"read": "Reading scope", "write": "Writing scope"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        # runserver's per-request lines ("POST /o/token/ 400"); silent unless REAL_LOG=1.
        "django.server": {"handlers": ["stderr"], "level": "INFO" if os.environ.get("REAL_LOG") else "ERROR", "propagate": False},
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
    },
}
