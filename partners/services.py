import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from partners import key_cache, keys, subscriptions
from partners.models import ApiKey, Partner, User
from rheo import ratelimit
from rheo.errors import ServiceError
from rheo.ratelimit import Decision

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


def create_api_key(*, partner: Partner, name: str, mode: str) -> IssuedKey:
    """A new key, within the plan's max_api_keys for its mode (else plan_limit_reached)."""
    if mode not in keys.PREFIXES:
        message = "Must be live or test."
        raise ServiceError("validation_error", message, fields={"mode": [message]})
    secret = keys.generate(mode)
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
    """Refuse the key from its next request on (its cached copy goes too). False
    when it was already revoked."""
    revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    key_cache.forget([api_key.digest])
    return bool(revoked)


def disable_partner(*, partner: Partner) -> bool:
    """Shut the partner out at once: its API keys get 401 from their next request (their
    cached copies go too), its users cannot log in, and their sessions and
    bearer tokens stop working (partners.authentication). Its items, running auctions and
    webhooks carry on, so a sale on Tradera is still recorded. False when it already was
    disabled."""
    changed = Partner.objects.filter(pk=partner.pk, is_active=True).update(is_active=False)
    key_cache.forget_partner(partner.pk)
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


@dataclass(frozen=True)
class Authenticated:
    api_key: ApiKey
    rate_limit: Decision | None  # the request counted in `rate_tier`, if one was given


def authenticate_api_key(*, raw_key: str, rate_tier: str | None = None) -> Authenticated:
    """The active key behind `raw_key`, with its partner, or ServiceError
    authentication_failed; with `rate_tier`, the request counted in that tier of the key's
    rate limit (rheo.ratelimit, subject: the key's digest), refusing nothing itself.
    Malformed keys are refused before any lookup. With Redis, keys in use are read from
    there, in the round trip that also counts the request (partners.key_cache); else, and
    on a miss, from the database."""
    if keys.mode_of(raw_key) is None:
        raise ServiceError("authentication_failed", "The API key is malformed.")
    digest = keys.digest(raw_key)
    if key_cache.enabled():
        cached, counted = key_cache.find(digest, rate_tier)
        if cached is not None:
            return Authenticated(cached, counted)
    api_key = _find_api_key(digest)
    if api_key is None or not secrets.compare_digest(api_key.digest, digest):
        raise ServiceError("authentication_failed", "The API key is not valid.")
    if api_key.revoked_at is not None:
        raise ServiceError("authentication_failed", "The API key has been revoked.")
    if not api_key.partner.is_active:
        raise ServiceError("authentication_failed", "The partner account is disabled.")
    if not (key_cache.enabled() and key_cache.remember(api_key)):
        _touch_last_used(api_key)
    counted = ratelimit.hit(rate_tier, digest) if rate_tier is not None else None
    return Authenticated(api_key, counted)


# Every authenticated request runs this lookup: a plain cursor costs a third of the
# ORM's select_related, and half of a RawQuerySet (which reads the cursor's description).
_KEY_FIELDS = [f.attname for f in ApiKey._meta.concrete_fields]
_FIND_KEY_SQL = (
    f"SELECT {', '.join(f'k.{f.column}' for f in ApiKey._meta.concrete_fields)}, "  # noqa: S608
    "p.name, p.is_active "
    "FROM partners_apikey k JOIN partners_partner p ON p.id = k.partner_id "
    "WHERE k.digest = %s"
)


def _find_api_key(digest: str) -> ApiKey | None:
    if connection.vendor != "postgresql":
        # Only psycopg hands back UUIDs and datetimes as Python values; elsewhere the
        # ORM converts them.
        return ApiKey.objects.select_related("partner").filter(digest=digest).first()
    with connection.cursor() as cursor:
        cursor.execute(_FIND_KEY_SQL, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    *key_values, partner_name, partner_is_active = row
    api_key = ApiKey.from_db(connection.alias, _KEY_FIELDS, key_values)
    api_key.partner = Partner.from_db(
        connection.alias,
        ["id", "name", "is_active"],
        [api_key.partner_id, partner_name, partner_is_active],
    )
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
