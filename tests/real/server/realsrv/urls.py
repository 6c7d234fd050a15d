from django.urls import include, path, re_path
from django.views.static import serve
from rest_framework_simplejwt.views import TokenBlacklistView, TokenObtainPairView, TokenRefreshView

from realapi import views
from realsrv.settings import FIXTURE_DIR, SDK_ROOT

urlpatterns = [
    # --- djangorestframework-simplejwt, unmodified views -------------------------------------
    path("api/token/", TokenObtainPairView.as_view()),
    path("api/token/refresh/", TokenRefreshView.as_view()),
    # Server-side logout in simplejwt format (the SDK's revokeUrl): POST {refresh} → blacklisted.
    path("api/token/blacklist/", TokenBlacklistView.as_view()),
    # The seed-000 view: clear_tokens bodies for deleted/inactive users, else SimpleJWT's view.
    path("api/auth/token/refresh/", views.ClearTokensRefreshView.as_view()),
    # Cookie mode: refresh token in an httpOnly cookie (SimpleJWT has no cookie mode built in).
    path("api/auth/cookie/refresh/", views.CookieRefreshView.as_view()),
    # Cookie-mode server-side logout: blacklists the cookie's refresh token, deletes the cookie.
    path("api/auth/cookie/logout/", views.CookieLogoutView.as_view()),
    path("api/me/", views.JwtMe.as_view()),
    path("api/echo/", views.JwtEcho.as_view()),
    # --- django-oauth-toolkit, unmodified: /o/token/, /o/revoke_token/, /o/introspect/, ... ----
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("oapi/me/", views.OAuthMe.as_view()),
    path("oapi/echo/", views.OAuthEcho.as_view()),
    # --- test hooks ---------------------------------------------------------------------------
    path("__test/", include("testsupport.urls")),
    # --- the SDK and the fixture page, same origin as the API -----------------------------------
    re_path(r"^js/(?P<path>.*)$", serve, {"document_root": SDK_ROOT / "js"}),
    re_path(r"^pkg/(?P<path>.*)$", serve, {"document_root": SDK_ROOT / "pkg"}),
    re_path(r"^real/(?P<path>.*)$", serve, {"document_root": FIXTURE_DIR}),
]
