from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from partners.authentication import ApiKeyAuthentication, HasApiKey
from rheo import ratelimit


class AlwaysJSON(DefaultContentNegotiation):
    """The Integration API answers JSON whatever the Accept header asks, as Stripe's does:
    an ERP's HTTP client that sends `Accept: text/html` by default still gets its answer,
    not a 406, and no request pays for parsing Accept (a fiftieth of a PUT)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = next(r for r in renderers if isinstance(r, JSONRenderer))
        return renderer, renderer.media_type


class IntegrationAPIView(ratelimit.RateLimitHeadersMixin, APIView):
    """An Integration API endpoint: `x-api-key` auth, then the per-key rate limit of the
    method's tier. Every authenticated response carries the RateLimit headers."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKey]
    content_negotiation_class = AlwaysJSON
    # Methods not listed here (HEAD, OPTIONS, and those answered 405) count as reads.
    rate_limit_tiers: dict[str, str] = {}

    def permission_denied(self, request, message=None, code=None):
        if not request.successful_authenticator:
            raise exceptions.NotAuthenticated(HasApiKey.message)
        super().permission_denied(request, message, code)

    def rate_limit_tier(self, request) -> str:
        return self.rate_limit_tiers.get(request.method, "read")

    def initial(self, request, *args, **kwargs):
        # Authentication counts the request in its key's allowance (subject: the key's
        # digest), in the round trip that reads the key (partners.authentication).
        super().initial(request, *args, **kwargs)
        ratelimit.refuse_if_over(request, request._request.rate_limit)

    @property
    def partner(self):
        return self.request.auth.partner

    @property
    def livemode(self) -> bool:
        return self.request.auth.livemode
