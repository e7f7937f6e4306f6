from rest_framework import exceptions, serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from partners.authentication import ApiKeyAuthentication, HasApiKey
from partners.models import ApiKey
from rheo.ratelimit import RateLimitMixin, RateLimitThrottle


class AlwaysJSON(DefaultContentNegotiation):
    """The Integration API answers JSON whatever the Accept header asks, as Stripe's does:
    an ERP's HTTP client that sends `Accept: text/html` by default still gets its answer,
    not a 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = next(r for r in renderers if isinstance(r, JSONRenderer))
        return renderer, renderer.media_type


MAX_EXTERNAL_ID_LENGTH = 255


def check_external_id(external_id: str) -> None:
    """The path's external id: one PostgreSQL can store (no NUL), of the documented length."""
    problems = []
    if len(external_id) > MAX_EXTERNAL_ID_LENGTH:
        problems.append(f"Ensure this field has no more than {MAX_EXTERNAL_ID_LENGTH} characters.")
    if "\x00" in external_id:
        problems.append("Null characters are not allowed.")
    if problems:
        raise serializers.ValidationError({"external_id": problems})


class ApiKeyThrottle(RateLimitThrottle):
    """Per API key (the key's digest names its allowance)."""

    def subject(self, request) -> str:
        return request.auth.digest


class IntegrationAPIView(RateLimitMixin, APIView):
    """An Integration API endpoint: `x-api-key` auth, then the per-key rate limit of the
    method's tier. Every authenticated response carries the RateLimit headers."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKey]
    throttle_classes = [ApiKeyThrottle]
    content_negotiation_class = AlwaysJSON
    # Methods not listed here (HEAD, OPTIONS, and those answered 405) count as reads.
    rate_limit_tiers: dict[str, str] = {}
    # The request's key, once authenticated; its prefix names it in the request's log
    # line (rheo.middleware reads response.api_key_prefix).
    api_key: ApiKey | None = None

    def get_rate_limit_tier(self, request) -> str:
        return self.rate_limit_tiers.get(request.method, "read")

    def perform_authentication(self, request):
        super().perform_authentication(request)
        self.api_key = request.auth

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authenticated and counted first
        if "external_id" in kwargs:
            check_external_id(kwargs["external_id"])

    def permission_denied(self, request, message=None, code=None):
        if not request.successful_authenticator:
            raise exceptions.NotAuthenticated(HasApiKey.message)
        super().permission_denied(request, message, code)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.api_key is not None:
            response.api_key_prefix = self.api_key.prefix
        return response

    @property
    def partner(self):
        assert self.api_key is not None  # HasApiKey let the request in
        return self.api_key.partner

    @property
    def livemode(self) -> bool:
        assert self.api_key is not None  # HasApiKey let the request in
        return self.api_key.livemode
