"""Connecting a partner's Tradera account through Tradera's token login.

The partner is sent to `tokenlogin.aspx` with a secret key of ours (kept in their
session); after they consent, Tradera sends them back to our accept URL with their user
id, and FetchToken(userId, secretKey) gives the token and its hard expiry. There is no
refresh: near its expiry the account needs attention, and the partner logs in again.

Live mode: Tradera's login, with the application configured in TRADERA_APP_ID,
TRADERA_PUBLIC_KEY (and TRADERA_APP_KEY for FetchToken); Tradera sends the partner back
to the Accept URL set on that application at Tradera.

Test mode: the sandbox's own login page, with the sandbox's application, which sends the
partner back to the accept URL we pass it (`redirect`, a sandbox extension), so the flow
returns to whatever host and port Rheo runs on. Test mode works without it too: until a
sandbox seller is connected, test items publish as a sandbox seller made for the partner
(tradera.services.jobs.seller_for); a connected one replaces it for later publishes."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode, urljoin

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from partners.models import Partner
from rheo.errors import ServiceError
from tradera.client import TraderaError, for_mode
from tradera.models import TraderaAccount


@dataclass(frozen=True)
class LoginRequest:
    url: str  # where to send the partner's browser
    secret_key: str  # ours, to keep until they come back


def live_configured() -> bool:
    """Whether this server has a live Tradera application to send partners to (under
    make run it has none: TRADERA_APP_ID is 0)."""
    return bool(
        settings.TRADERA_APP_ID and settings.TRADERA_APP_KEY and settings.TRADERA_PUBLIC_KEY
    )


def start_connection(*, livemode: bool, accept_url: str) -> LoginRequest:
    """The consent URL of the mode's Tradera (the token login lives beside its API, so a
    TRADERA_API_URL pointed at the sandbox gets the sandbox's consent page). `accept_url`
    is passed to the sandbox only: real Tradera returns to its application's setting."""
    if livemode and not live_configured():
        raise ServiceError(
            "conflict",
            "Live Tradera is not configured on this server: set TRADERA_APP_ID, "
            "TRADERA_APP_KEY and TRADERA_PUBLIC_KEY.",
        )
    secret_key = secrets.token_urlsafe(32)  # 43 characters; Tradera wants 32–255
    if livemode:
        api_url, app_id = settings.TRADERA_API_URL, settings.TRADERA_APP_ID
        params = {"pkey": settings.TRADERA_PUBLIC_KEY, "skey": secret_key}
    else:
        api_url, app_id = settings.TRADERA_SANDBOX_URL, settings.TRADERA_SANDBOX_APP_ID
        params = {
            "pkey": settings.TRADERA_SANDBOX_PUBLIC_KEY,
            "skey": secret_key,
            "redirect": accept_url,
        }
    query = urlencode({"appId": app_id, **params})
    return LoginRequest(
        url=f"{urljoin(api_url, '/tokenlogin.aspx')}?{query}", secret_key=secret_key
    )


def complete_connection(
    *, partner: Partner, livemode: bool, user_id: int, secret_key: str
) -> TraderaAccount:
    """The partner consented as Tradera user `user_id`: fetch the token from the mode's
    Tradera and keep it (encrypted) as the partner's account of that mode. Connecting
    another seller than before starts its sync afresh (auctions already running under the
    previous seller are no longer followed)."""
    try:
        token = for_mode(livemode).fetch_token(user_id, secret_key)
    except TraderaError as exc:
        raise ServiceError(
            "conflict", f"Tradera did not hand over the login: {exc.message}"
        ) from None
    with transaction.atomic():
        account = (
            TraderaAccount.objects.select_for_update()
            .filter(partner=partner, livemode=livemode)
            .first()
        )
        if account is None or account.user_id != user_id:
            account = account or TraderaAccount(partner=partner, livemode=livemode)
            account.synced_until = None
        account.user_id = user_id
        account.token = token.token
        account.token_expires_at = token.hard_expiration
        account.last_sync_error = ""
        account.save()
    return account


@dataclass(frozen=True)
class TokenHealth:
    state: str  # "ok", "expiring" or "expired"
    expires_at: datetime | None

    @property
    def needs_attention(self) -> bool:
        return self.state != "ok"


def token_health(account: TraderaAccount, now: datetime | None = None) -> TokenHealth:
    now = now or timezone.now()
    expires = account.token_expires_at
    if expires is None:
        return TokenHealth("ok", None)
    if expires <= now:
        return TokenHealth("expired", expires)
    if expires - now <= timedelta(days=settings.TRADERA_TOKEN_WARN_DAYS):
        return TokenHealth("expiring", expires)
    return TokenHealth("ok", expires)
