from typing import cast

from django.contrib.auth.backends import ModelBackend
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework_simplejwt.authentication import JWTAuthentication

from partners import services
from partners.models import ApiKey, User
from rheo.errors import ServiceError


class ApiKeyAuthentication(BaseAuthentication):
    """`x-api-key: rheo_live_…`: request.user is the key's Partner, request.auth the ApiKey.
    One indexed query per request (partners.services.authenticate_api_key)."""

    def authenticate(self, request):
        raw_key = request.headers.get("x-api-key")
        if not raw_key:
            return None
        try:
            api_key = services.authenticate_api_key(raw_key=raw_key.strip())
        except ServiceError as exc:
            raise AuthenticationFailed(exc.message) from exc
        return api_key.partner, api_key

    def authenticate_header(self, request):
        return 'ApiKey header="x-api-key"'


class HasApiKey(BasePermission):
    message = "Authentication required: send your API key in the x-api-key header."

    def has_permission(self, request, view):
        return isinstance(request.auth, ApiKey)


class PartnerJWTAuthentication(JWTAuthentication):
    """`Authorization: Bearer <access token>` of an active user of an active partner."""

    def get_user(self, validated_token):
        # simplejwt returns the AUTH_USER_MODEL but types it as any user model.
        user = cast(User, super().get_user(validated_token))
        if user.partner is None:
            raise AuthenticationFailed("This account does not belong to a partner.")
        if not user.partner.is_active:
            raise AuthenticationFailed("The partner account is disabled.")
        return user


def user_may_sign_in(user) -> bool:
    """The one rule for every way a person signs in (the dashboard's session, the admin,
    the Management API's tokens and their refresh): an active user, and, for a partner's
    user, an active partner. Staff have no partner."""
    if user is None or not user.is_active:
        return False
    return user.partner_id is None or user.partner.is_active


class PartnerUserBackend(ModelBackend):
    """Django's email-and-password backend, whose session users must pass
    user_may_sign_in: Django asks the backend for the session's user on every request, so
    a session opened before the partner was disabled stops working at once. Logging in
    is left to the login forms (the dashboard's says why it refuses a disabled partner;
    the admin's takes staff only) and to the token rule."""

    def get_user(self, user_id):
        user = super().get_user(user_id)
        return user if user_may_sign_in(user) else None
