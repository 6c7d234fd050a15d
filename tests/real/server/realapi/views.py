"""
The application side of the real-server tests: protected endpoints for both servers, the seed-000
refresh view (clear_tokens bodies), a cookie-mode refresh view and its logout (revocation) view. The token logic itself is
SimpleJWT's and django-oauth-toolkit's, unmodified: these views only call into it.
"""
from django.contrib.auth import get_user_model
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenRefreshView

REFRESH_COOKIE = "refresh_token"
REFRESH_COOKIE_PATH = "/api/auth/cookie/"

# Seed 000's bodies. `detail` is the seed's field; `message` carries the same text for clients
# that read that name instead.
USER_NOT_FOUND = "User account no longer exists. Please log in again."
USER_INACTIVE = "User account is inactive"


def clear_tokens(error, text):
    return Response(
        {"error": error, "detail": text, "message": text, "action": "clear_tokens"},
        status=status.HTTP_401_UNAUTHORIZED,
    )


def refusal_for(raw_refresh):
    """The seed-000 answer for a valid refresh token whose user is gone or inactive, else None.
    An invalid, expired or blacklisted token gets None: SimpleJWT's own view answers it."""
    try:
        token = RefreshToken(raw_refresh)  # signature, expiry and blacklist, as SimpleJWT checks them
    except TokenError:
        return None
    user_id = token.payload.get(api_settings.USER_ID_CLAIM)
    user = get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: user_id}).first()
    if user is None:
        # SimpleJWT 5.5.1's TokenRefreshSerializer does `User.objects.get(...)` here and so
        # answers 500 (DoesNotExist) for a deleted user: the bug seed 000 describes.
        return clear_tokens("user_not_found", USER_NOT_FOUND)
    if not api_settings.USER_AUTHENTICATION_RULE(user):
        return clear_tokens("user_inactive", USER_INACTIVE)
    return None


class ClearTokensRefreshView(TokenRefreshView):
    """Seed 000's CustomTokenRefreshView: 401 `user_not_found` / `user_inactive` with
    `action: clear_tokens`; everything else (success, rotation, blacklisting, invalid or
    blacklisted tokens, missing field) is SimpleJWT's TokenRefreshView."""

    def post(self, request, *args, **kwargs):
        data = request.data
        raw = data.get("refresh") if hasattr(data, "get") else None
        if isinstance(raw, str) and raw:
            refusal = refusal_for(raw)
            if refusal is not None:
                return refusal
        return super().post(request, *args, **kwargs)


class CookieRefreshView(APIView):
    """Cookie mode. SimpleJWT has no cookie mode built in, so this small view reads the refresh
    token from the httpOnly cookie, runs SimpleJWT's own TokenRefreshSerializer (rotation and
    blacklisting included) and puts the rotated refresh token back into the cookie. The body
    answers only `{access}`."""

    authentication_classes = []
    permission_classes = []
    www_authenticate_realm = "api"

    def get_authenticate_header(self, request):
        # As SimpleJWT's own TokenViewBase: with a WWW-Authenticate header DRF answers a refused
        # token (InvalidToken) 401, as TokenRefreshView does, instead of 403.
        return f'Bearer realm="{self.www_authenticate_realm}"'

    def post(self, request, *args, **kwargs):
        raw = request.COOKIES.get(REFRESH_COOKIE)
        if not raw:
            return Response(
                {"error": "refresh_token_required", "detail": "Refresh token is required", "action": "clear_tokens"},
                status=status.HTTP_401_UNAUTHORIZED,
            )
        refusal = refusal_for(raw)
        if refusal is not None:
            refusal.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH)
            return refusal
        serializer = TokenRefreshSerializer(data={"refresh": raw})
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError as e:
            raise InvalidToken(e.args[0])
        data = serializer.validated_data
        response = Response({"access": data["access"]})
        if "refresh" in data:
            set_refresh_cookie(response, data["refresh"])
        return response


class CookieLogoutView(APIView):
    """Cookie-mode server-side logout (the SDK's `revokeUrl` with `refreshMode: 'cookie'`): the
    refresh token in the httpOnly cookie is blacklisted with SimpleJWT's own
    RefreshToken.blacklist() and the cookie deleted. 200 `{}`; without a cookie, or with a token
    SimpleJWT refuses (invalid, expired, already blacklisted), 401 as SimpleJWT answers it, the
    cookie deleted all the same."""

    authentication_classes = []
    permission_classes = []

    def post(self, request, *args, **kwargs):
        raw = request.COOKIES.get(REFRESH_COOKIE)
        if not raw:
            response = Response(
                {"error": "refresh_token_required", "detail": "Refresh token is required"},
                status=status.HTTP_401_UNAUTHORIZED,
            )
        else:
            try:
                RefreshToken(raw).blacklist()
                response = Response({})
            except TokenError as e:
                response = Response(
                    {"detail": str(e.args[0]), "code": "token_not_valid"},
                    status=status.HTTP_401_UNAUTHORIZED,
                )
        response.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, samesite="Strict")
        return response


def set_refresh_cookie(response, refresh):
    response.set_cookie(
        REFRESH_COOKIE,
        refresh,
        max_age=int(api_settings.REFRESH_TOKEN_LIFETIME.total_seconds()),
        path=REFRESH_COOKIE_PATH,
        httponly=True,
        samesite="Strict",
    )


def describe(request):
    return {"id": request.user.pk, "username": request.user.username}


class JwtMe(APIView):
    authentication_classes = [JWTAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response(describe(request))


class JwtEcho(JwtMe):
    """Answers the request body back (replay checks: the replayed request carries the same body)."""

    def post(self, request):
        return Response({**describe(request), "content_type": request.content_type, "body": request.data})


class OAuthMe(JwtMe):
    authentication_classes = [OAuth2Authentication]


class OAuthEcho(JwtEcho):
    authentication_classes = [OAuth2Authentication]
