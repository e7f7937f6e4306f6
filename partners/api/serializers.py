from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from partners.models import ApiKey
from rheo.fields import StrictCharField


class PartnerTokenSerializer(TokenObtainPairSerializer):
    """Email and password → access and refresh tokens, for partner users only."""

    def validate(self, attrs):
        tokens = super().validate(attrs)
        if self.user.partner_id is None:
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
