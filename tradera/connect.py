"""Connecting a partner's live Tradera account through Tradera's token login.

The partner is sent to `tokenlogin.aspx` with a secret key of ours (kept in their
session); after they consent, Tradera sends them back to our accept URL with their user
id, and FetchToken(userId, secretKey) gives the token and its hard expiry. There is no
refresh: near its expiry the account needs attention, and the partner logs in again.
Test mode needs none of this (a sandbox seller per partner, see tradera.services)."""

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


def start_connection() -> LoginRequest:
    """The consent URL of the configured Tradera (the token login lives beside its API,
    so a TRADERA_API_URL pointed at the sandbox gets the sandbox's consent page)."""
    secret_key = secrets.token_urlsafe(32)  # 43 characters; Tradera wants 32–255
    query = urlencode(
        {
            "appId": settings.TRADERA_APP_ID,
            "pkey": settings.TRADERA_PUBLIC_KEY,
            "skey": secret_key,
        }
    )
    return LoginRequest(
        url=f"{urljoin(settings.TRADERA_API_URL, '/tokenlogin.aspx')}?{query}",
        secret_key=secret_key,
    )


def complete_connection(*, partner: Partner, user_id: int, secret_key: str) -> TraderaAccount:
    """The partner consented as Tradera user `user_id`: fetch the token and keep it
    (encrypted). Connecting another seller than before starts its sync afresh."""
    try:
        token = for_mode(True).fetch_token(user_id, secret_key)
    except TraderaError as exc:
        raise ServiceError(
            "conflict", f"Tradera did not hand over the login: {exc.message}"
        ) from None
    with transaction.atomic():
        account = (
            TraderaAccount.objects.select_for_update()
            .filter(partner=partner, livemode=True)
            .first()
        )
        if account is None or account.user_id != user_id:
            account = account or TraderaAccount(partner=partner, livemode=True)
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
