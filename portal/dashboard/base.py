from functools import wraps

from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator

from items.models import Item
from partners.models import ApiKey, Partner

MODE_SESSION_KEY = "dashboard_mode"
PAGE_SIZE = 25


def partner_page(view):
    """A dashboard page: a logged-in user of an active partner. Sets `request.partner`
    and `request.livemode`: the mode the user switched to, else the one opening_mode
    chose at the session's first page (kept for the session, so the view does not flip
    while they work). A user whose partner was disabled is logged out on the next
    request."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if user.partner_id is None or not user.partner.is_active:
            logout(request)
            return redirect_to_login(request.get_full_path())
        request.partner = user.partner
        if MODE_SESSION_KEY not in request.session:
            request.session[MODE_SESSION_KEY] = opening_mode(request.partner)
        request.livemode = request.session[MODE_SESSION_KEY] != "test"
        return view(request, *args, **kwargs)

    return wrapper


def opening_mode(partner: Partner) -> str:
    """The mode the dashboard opens in: "live" once the partner has any live API key
    (revoked ones too) or any live item (deleted ones too), else "test", where a new
    partner's first keys and items are."""
    has_live = (
        ApiKey.objects.filter(partner=partner, mode=ApiKey.Mode.LIVE).exists()
        or Item.objects.filter(partner=partner, livemode=True).exists()
    )
    return "live" if has_live else "test"


def paginate(request, queryset, per_page: int = PAGE_SIZE):
    """The page of `queryset` named by ?page= (out-of-range numbers give the last page)."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def query_without_page(request) -> str:
    """The current filters as a query string, for the pagination links."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
