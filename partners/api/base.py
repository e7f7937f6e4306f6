from rest_framework.exceptions import AuthenticationFailed
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication

from rheo import ratelimit
from rheo.errors import ServiceError


class PartnerJWTAuthentication(JWTAuthentication):
    """`Authorization: Bearer <access token>` of an active user of an active partner."""

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        if user.partner_id is None:
            raise AuthenticationFailed("This account does not belong to a partner.")
        if not user.partner.is_active:
            raise AuthenticationFailed("The partner account is disabled.")
        return user


class ManagementAPIView(ratelimit.RateLimitHeadersMixin, APIView):
    """A Management API endpoint: a partner user's JWT; everything is scoped to that
    user's partner, and counted in the rate limit tier `rate_limit_tier` per partner
    (all its users together)."""

    authentication_classes = [PartnerJWTAuthentication]
    rate_limit_tier = "management"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.user is None:
            raise AuthenticationFailed(
                "Authentication required: send Authorization: Bearer <access token>."
            )
        ratelimit.enforce(request, self.rate_limit_tier, str(request.user.partner_id))

    @property
    def partner(self):
        return self.request.user.partner

    def validated(self, serializer_class, data=None):
        serializer = serializer_class(data=self.request.data if data is None else data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def livemode(self) -> bool:
        """`?mode=live` (the default) or `?mode=test`."""
        mode = self.request.query_params.get("mode", "live")
        if mode not in ("live", "test"):
            message = "Must be live or test."
            raise ServiceError("validation_error", message, fields={"mode": [message]})
        return mode == "live"
