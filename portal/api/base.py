from typing import cast

from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from partners.authentication import PartnerJWTAuthentication
from partners.models import User
from rheo.errors import ServiceError
from rheo.ratelimit import RateLimitMixin, RateLimitThrottle

# Said in every Management operation's description.
MANAGEMENT = (
    "Bearer token of a partner user (POST /api/v1/auth/token); rate limited per partner, "
    "all its users together (429 with Retry-After)."
)


class IsPartnerUser(BasePermission):
    message = "Authentication required: send Authorization: Bearer <access token>."

    def has_permission(self, request, view):
        return request.user is not None


class PartnerThrottle(RateLimitThrottle):
    """Per partner: all its users together."""

    def subject(self, request) -> str:
        return str(request.user.partner_id)


class ManagementAPIView(RateLimitMixin, APIView):
    # A Management API endpoint: a partner user's JWT; everything is scoped to that user's
    # partner, and counted per partner in the view's rate limit tier. (A comment, not a
    # docstring: drf-spectacular would make a docstring every operation's description.)

    authentication_classes = [PartnerJWTAuthentication]
    permission_classes = [IsPartnerUser]
    throttle_classes = [PartnerThrottle]
    rate_limit_tier = "management"

    def permission_denied(self, request, message=None, code=None):
        if not request.successful_authenticator:
            raise NotAuthenticated(IsPartnerUser.message)
        super().permission_denied(request, message, code)

    @property
    def partner(self):
        # PartnerJWTAuthentication let in only a partner's user (never AnonymousUser).
        return cast(User, self.request.user).partner

    def validated(self, serializer_class, data=None, context=None):
        serializer = serializer_class(
            data=self.request.data if data is None else data, context=context or {}
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def livemode(self) -> bool:
        """`?mode=live` (the default) or `?mode=test`."""
        mode = self.request.query_params.get("mode", "live")
        if mode not in ("live", "test"):
            message = "Must be live or test."
            raise ServiceError("validation_error", message, fields={"mode": [message]})
        return mode == "live"
