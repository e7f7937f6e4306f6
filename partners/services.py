import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from partners import keys, subscriptions
from partners.models import ApiKey, Partner, User
from rheo.errors import ServiceError

logger = logging.getLogger(__name__)

# last_used_at is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    secret: str  # the full key: shown once, never stored


def create_partner(*, name: str, email: str, password: str | None = None) -> tuple[Partner, User]:
    """Create a partner, its first dashboard user and its subscription (the default plan)."""
    if User.objects.filter(email__iexact=email).exists():
        raise ServiceError("conflict", f"A user with the email {email} already exists.")
    with transaction.atomic():
        partner = Partner.objects.create(name=name)
        user = User.objects.create_user(email=email, password=password, partner=partner)
        subscriptions.start_subscription(partner=partner)
    return partner, user


def create_api_key(
    *, partner: Partner, name: str, mode: str, secret: str | None = None
) -> IssuedKey:
    """A new key, within the plan's max_api_keys for its mode (else plan_limit_reached).
    `secret` makes it a key chosen beforehand (the demo key `make run` keeps in .env)."""
    if mode not in keys.PREFIXES:
        message = "Must be live or test."
        raise ServiceError("validation_error", message, fields={"mode": [message]})
    if secret is None:
        secret = keys.generate(mode)
    elif keys.mode_of(secret) != mode:
        raise ServiceError("validation_error", f"Not a well-formed {mode} key.")
    with transaction.atomic():
        subscriptions.ensure_room_for_api_key(partner=partner, mode=mode)
        api_key = ApiKey.objects.create(
            partner=partner,
            name=name,
            mode=mode,
            prefix=keys.display_prefix(secret),
            digest=keys.digest(secret),
        )
    return IssuedKey(api_key=api_key, secret=secret)


def revoke_api_key(*, api_key: ApiKey) -> bool:
    """Refuse the key from its next request on. False when it was already revoked."""
    revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    return bool(revoked)


def disable_partner(*, partner: Partner) -> bool:
    """Shut the partner out at once: its API keys get 401 from their next request, its
    users cannot log in, and their sessions and bearer tokens stop working
    (partners.authentication). Its items, running auctions and webhooks carry on, so a
    sale on Tradera is still recorded. False when it already was disabled."""
    changed = Partner.objects.filter(pk=partner.pk, is_active=True).update(is_active=False)
    if changed:
        logger.info("partner disabled partner=%s", partner.pk)
    return bool(changed)


def enable_partner(*, partner: Partner) -> bool:
    """Let a disabled partner in again: its keys (those not revoked) and users work at once.
    False when it was not disabled."""
    changed = Partner.objects.filter(pk=partner.pk, is_active=False).update(is_active=True)
    if changed:
        logger.info("partner enabled partner=%s", partner.pk)
    return bool(changed)


def authenticate_api_key(*, raw_key: str) -> ApiKey:
    """The active key behind `raw_key`, with its partner, or ServiceError
    authentication_failed. Malformed keys are refused without a query; others cost one
    indexed query (and, once a minute per key, the last_used_at write). Nothing is
    cached, so a revoke, a disabled partner or any other change counts from the next
    request."""
    if keys.mode_of(raw_key) is None:
        raise ServiceError("authentication_failed", "The API key is malformed.")
    try:
        api_key = ApiKey.objects.select_related("partner").get(digest=keys.digest(raw_key))
    except ApiKey.DoesNotExist:
        raise ServiceError("authentication_failed", "The API key is not valid.") from None
    if api_key.revoked_at is not None:
        raise ServiceError("authentication_failed", "The API key has been revoked.")
    if not api_key.partner.is_active:
        raise ServiceError("authentication_failed", "The partner account is disabled.")
    _touch_last_used(api_key)
    return api_key


def _touch_last_used(api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Advisory data: losing the last instant of it in a crash is fine, so the
            # request does not wait for this write to reach the disk.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        # Conditional, so concurrent requests of one key write once per minute at most.
        ApiKey.objects.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION),
            pk=api_key.pk,
        ).update(last_used_at=now)
    api_key.last_used_at = now
