from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from partners import services
from partners.models import ApiKey
from rheo.errors import ServiceError


class ApiKeyAuthentication(BaseAuthentication):
    """`x-api-key: rheo_live_…`: request.user is the key's Partner, request.auth the ApiKey."""

    def authenticate(self, request):
        raw_key = request.headers.get("x-api-key")
        if not raw_key:
            return None
        try:
            api_key = services.authenticate_api_key(raw_key=raw_key.strip())
        except ServiceError as exc:
            raise AuthenticationFailed(exc.message) from exc
        request._request.api_key_prefix = api_key.prefix  # for the request log line
        return api_key.partner, api_key

    def authenticate_header(self, request):
        return 'ApiKey header="x-api-key"'


class HasApiKey(BasePermission):
    message = "Authentication required: send your API key in the x-api-key header."

    def has_permission(self, request, view):
        return isinstance(request.auth, ApiKey)
