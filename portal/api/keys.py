"""The Management API's login and API keys (/api/v1/auth/…, /api/v1/api-keys)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.response import Response
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from partners import services
from partners.models import ApiKey
from portal.api.base import MANAGEMENT, ManagementAPIView
from rheo.fields import StrictCharField
from rheo.ratelimit import ClientAddressThrottle, RateLimitMixin
from rheo.schema import error_responses

EXAMPLE_TOKENS = {
    "access": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2lnbmF0dXJl",
    "refresh": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl",
}
EXAMPLE_KEY = {
    "id": "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
    "name": "Recopart Production",
    "mode": "live",
    "prefix": "rheo_live_3kP9",
    "createdAt": "2026-12-01T10:00:00Z",
    "lastUsedAt": "2026-12-06T07:59:12Z",
    "revokedAt": None,
}


class PartnerTokenSerializer(TokenObtainPairSerializer):
    """Email and password → access and refresh tokens, for partner users only."""

    def validate(self, attrs):
        tokens = super().validate(attrs)
        assert self.user is not None  # super().validate authenticated one, or raised
        if self.user.partner is None:
            raise AuthenticationFailed("This account does not belong to a partner.")
        if not self.user.partner.is_active:
            raise AuthenticationFailed("The partner account is disabled.")
        return tokens


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Bearer token for /api/v1/, valid 15 minutes.")
    refresh = serializers.CharField(help_text="Exchanged for a new access token, valid 7 days.")


class ApiKeySerializer(serializers.ModelSerializer):
    createdAt = serializers.DateTimeField(source="created_at")
    lastUsedAt = serializers.DateTimeField(source="last_used_at", allow_null=True)
    revokedAt = serializers.DateTimeField(source="revoked_at", allow_null=True)
    prefix = serializers.CharField(help_text="The key's first characters, for recognising it.")

    class Meta:
        model = ApiKey
        fields = ["id", "name", "mode", "prefix", "createdAt", "lastUsedAt", "revokedAt"]
        read_only_fields = fields


class IssuedApiKeySerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The full key. Shown this once; store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiKeyInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100, help_text="e.g. Recopart Production")
    mode = serializers.ChoiceField(
        choices=ApiKey.Mode.choices, default="live", help_text="test keys write test items."
    )


class TokenView(RateLimitMixin, TokenObtainPairView):
    serializer_class = PartnerTokenSerializer
    authentication_classes = ()
    throttle_classes = [ClientAddressThrottle]
    rate_limit_tier = "auth-token"

    @extend_schema(
        operation_id="obtainToken",
        summary="Log in: email and password for an access and a refresh token",
        examples=[
            OpenApiExample(
                "Log in",
                value={"email": "ops@recopart.example", "password": "your password"},
                request_only=True,
            ),
            OpenApiExample("Tokens", value=EXAMPLE_TOKENS, response_only=True),
        ],
        description="Attempts are rate limited per client address (auth-token tier).",
        responses={200: TokenPairSerializer, **error_responses(400, 401, 429)},
        tags=["Management: auth"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class RefreshView(TokenRefreshView):
    authentication_classes = ()

    @extend_schema(
        operation_id="refreshToken",
        summary="A new access token for a refresh token",
        description="The refresh token is valid 7 days; each access token 15 minutes.",
        examples=[
            OpenApiExample(
                "Refresh", value={"refresh": EXAMPLE_TOKENS["refresh"]}, request_only=True
            ),
            OpenApiExample(
                "New access token",
                value={"access": EXAMPLE_TOKENS["access"]},
                response_only=True,
            ),
        ],
        responses={200: TokenPairSerializer, **error_responses(400, 401)},
        tags=["Management: auth"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class ApiKeysView(ManagementAPIView):
    @extend_schema(
        operation_id="listApiKeys",
        summary="The partner's API keys, revoked ones included",
        description=f"Both modes, newest first; never the full keys. {MANAGEMENT}",
        examples=[OpenApiExample("Keys", value=EXAMPLE_KEY, response_only=True)],
        responses={200: ApiKeySerializer(many=True), **error_responses(401, 429)},
        tags=["Management: API keys"],
    )
    def get(self, request):
        keys = ApiKey.objects.filter(partner=self.partner).order_by("-created_at")
        return Response(ApiKeySerializer(keys, many=True).data)

    @extend_schema(
        operation_id="createApiKey",
        summary="Generate an API key (the full key is returned this once)",
        description="402 plan_limit_reached when the plan's key limit for that mode is "
        f"reached. {MANAGEMENT}",
        examples=[
            OpenApiExample(
                "Production key",
                value={"name": "Recopart Production", "mode": "live"},
                request_only=True,
            ),
            OpenApiExample(
                "Issued",
                value={**EXAMPLE_KEY, "key": "rheo_live_3kP9x2QmV7sLw4Zt8Rb1Nc6Yd0Hf5Jg"},
                response_only=True,
                status_codes=["201"],
            ),
        ],
        request=ApiKeyInputSerializer,
        responses={201: IssuedApiKeySerializer, **error_responses(400, 401, 402, 429)},
        tags=["Management: API keys"],
    )
    def post(self, request):
        data = self.validated(ApiKeyInputSerializer)
        issued = services.create_api_key(partner=self.partner, name=data["name"], mode=data["mode"])
        # Not a column: the full key, for IssuedApiKeySerializer to show this once.
        issued.api_key.key = issued.secret  # type: ignore[attr-defined]
        return Response(IssuedApiKeySerializer(issued.api_key).data, status=status.HTTP_201_CREATED)


class ApiKeyView(ManagementAPIView):
    @extend_schema(
        operation_id="revokeApiKey",
        summary="Revoke an API key at once",
        description=f"Requests with the key are refused at once (401). {MANAGEMENT}",
        examples=[
            OpenApiExample(
                "Revoked",
                value={**EXAMPLE_KEY, "revokedAt": "2026-12-06T09:00:00Z"},
                response_only=True,
            )
        ],
        request=None,
        responses={200: ApiKeySerializer, **error_responses(401, 404, 429)},
        tags=["Management: API keys"],
    )
    def delete(self, request, key_id):
        api_key = get_object_or_404(ApiKey, pk=key_id, partner=self.partner)
        services.revoke_api_key(api_key=api_key)
        api_key.refresh_from_db()
        return Response(ApiKeySerializer(api_key).data)
