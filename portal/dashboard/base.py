from functools import wraps

from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator

MODE_SESSION_KEY = "dashboard_mode"
PAGE_SIZE = 25


def partner_page(view):
    """A dashboard page: a logged-in user of an active partner. Sets `request.partner`
    and `request.livemode` (the mode the user chose to view; live unless they switched).
    A user whose partner was disabled is logged out on the next request."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if user.partner_id is None or not user.partner.is_active:
            logout(request)
            return redirect_to_login(request.get_full_path())
        request.partner = user.partner
        request.livemode = request.session.get(MODE_SESSION_KEY, "live") != "test"
        return view(request, *args, **kwargs)

    return wrapper


def paginate(request, queryset, per_page: int = PAGE_SIZE):
    """The page of `queryset` named by ?page= (out-of-range numbers give the last page)."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def query_without_page(request) -> str:
    """The current filters as a query string, for the pagination links."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
