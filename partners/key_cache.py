"""API keys in use, kept in Redis: an authenticated request reads its key there, in the
one round trip that also notes the key's use, instead of querying PostgreSQL and writing
last_used_at (a third of a PUT's own CPU went to those two; bench/README.md).

- `rheo:apikey:<digest>`: what a request needs of a usable key of an active partner (ids,
  mode, prefix, name, the partner's name), for ENTRY_SECONDS. Filled after a database
  lookup, only when no entry is there (SET NX).
- Whatever makes a key unusable (a revoke, disabling the partner, deleting either, any
  admin save of them) replaces its entry with a tombstone, at once and again after the
  commit: a request that read the database before the change cannot put the key back
  (its SET NX finds the tombstone), and one that reads it after sees the change. Had Redis
  been unreachable at that moment, an entry still lives ENTRY_SECONDS at most.
- `rheo:apikey:used`: key digest → the Unix time of its last request. `flush_usage`
  (beat, every minute) writes them to ApiKey.last_used_at: one write per key and minute
  at most, whatever the request rate, as the API promises.

Without Redis (the embedded default) nothing is cached; partners.services reads and
touches the database as before. Redis errors fall back to the database too.
"""

import json
import logging
import os
import threading
import time
import uuid
from datetime import UTC, datetime

import redis
from django.conf import settings
from django.db import connection, transaction
from redis.backoff import NoBackoff
from redis.retry import Retry

from partners.models import ApiKey, Partner
from rheo import ratelimit
from rheo.ratelimit import Decision

logger = logging.getLogger(__name__)

ENTRY_SECONDS = 600
# Longer than any request takes between reading a key and caching it.
TOMBSTONE_SECONDS = 120
TOMBSTONE = b"-"
PREFIX = "rheo:apikey:"
USAGE_KEY = PREFIX + "used"

# In the model's field order, as Model.from_db wants them.
_KEY_FIELDS = ["id", "partner_id", "name", "mode", "prefix"]

# The entry, the key's use noted on the Redis clock and, given a rate-limit bucket
# (KEYS[3]), the request counted in it: one round trip for what a request needs of Redis.
_LOOKUP_LUA = (
    ratelimit.GCRA_LUA_FUNCTION
    + """
local entry = redis.call('GET', KEYS[1])
if not entry or entry == '-' then
  return {}
end
redis.call('HSET', KEYS[2], ARGV[1], redis.call('TIME')[1])
if KEYS[3] then
  local counted = gcra(KEYS[3], tonumber(ARGV[2]), tonumber(ARGV[3]))
  return {entry, counted[1], counted[2], counted[3], counted[4]}
end
return {entry}
"""
)
_TAKE_USAGE_LUA = """
local usage = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return usage
"""


class _Store:
    """One thread's connection to Redis for the cache. Its own connection, not one taken
    from redis-py's pool and given back for every command: ~30 µs less per request."""

    def __init__(self, url: str):
        self.url, self.pid = url, os.getpid()
        self.redis = redis.Redis.from_url(
            url,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            single_connection_client=True,
            # Redis or a proxy may have dropped it since the last request: once more, anew.
            retry=Retry(NoBackoff(), 1),
        )
        self.lookup = self.redis.register_script(_LOOKUP_LUA)
        self.take_usage = self.redis.register_script(_TAKE_USAGE_LUA)


_local = threading.local()


def _store() -> _Store | None:
    if not settings.REDIS_URL:
        return None
    store = getattr(_local, "store", None)
    # A forked child (gunicorn's workers) makes its own.
    if store is None or store.url != settings.REDIS_URL or store.pid != os.getpid():
        store = _local.store = _Store(settings.REDIS_URL)
    return store


def enabled() -> bool:
    return bool(settings.REDIS_URL)


def find(digest: str, tier: str | None = None) -> tuple[ApiKey | None, Decision | None]:
    """The usable key behind `digest` from Redis, its use noted and, with a rate-limit
    `tier`, the request counted in the key's allowance (rheo.ratelimit, the key's digest
    the subject). (None, None) when Redis has no entry (or is unreachable): then look in
    the database."""
    keys, args = [PREFIX + digest, USAGE_KEY], [digest]
    if tier is not None:
        rate = ratelimit.rate_of(tier)
        keys.append(ratelimit.bucket(tier, digest))
        args += [rate.interval_us, rate.limit]
    try:
        found = _store().lookup(keys=keys, args=args)
    except redis.RedisError:
        logger.warning("API key cache unavailable; reading the database", exc_info=True)
        return None, None
    if not found:
        return None, None
    values = json.loads(found[0])
    api_key = ApiKey.from_db(
        connection.alias,
        _KEY_FIELDS,
        [uuid.UUID(values["id"]), uuid.UUID(values["partner_id"]), *values["rest"]],
    )
    api_key.digest = digest  # known, so never read from the database
    api_key.partner = Partner.from_db(
        connection.alias,
        ["id", "name", "is_active"],
        [api_key.partner_id, values["partner_name"], True],
    )
    return api_key, ratelimit.decision_of(tier, found[1:]) if tier is not None else None


def remember(api_key: ApiKey) -> bool:
    """Cache a usable key just read from the database, unless a tombstone is there, and
    note its use; False when Redis is unreachable."""
    entry = json.dumps(
        {
            "id": str(api_key.pk),
            "partner_id": str(api_key.partner_id),
            "rest": [api_key.name, api_key.mode, api_key.prefix],
            "partner_name": api_key.partner.name,
        }
    )
    try:
        with _store().redis.pipeline(transaction=False) as pipe:
            pipe.set(PREFIX + api_key.digest, entry, nx=True, ex=ENTRY_SECONDS)
            pipe.hset(USAGE_KEY, api_key.digest, int(time.time()))
            pipe.execute()
    except redis.RedisError:
        logger.warning("API key cache unavailable; key not cached", exc_info=True)
        return False
    return True


def forget(digests) -> None:
    """Tombstone these keys' entries now and again once the current transaction commits
    (see the module's docstring)."""
    digests = list(digests)
    if not digests or not enabled():
        return
    _tombstone(digests)
    transaction.on_commit(lambda: _tombstone(digests))


def forget_partner(partner_id) -> None:
    forget(ApiKey.objects.filter(partner_id=partner_id).values_list("digest", flat=True))


def _tombstone(digests: list[str]) -> None:
    try:
        with _store().redis.pipeline(transaction=False) as pipe:
            for digest in digests:
                pipe.set(PREFIX + digest, TOMBSTONE, ex=TOMBSTONE_SECONDS)
            pipe.execute()
    except redis.RedisError:
        logger.error(
            "API key cache unavailable: %d changed key(s) may be accepted for up to %d s",
            len(digests),
            ENTRY_SECONDS,
            exc_info=True,
        )


def with_recent_use(api_keys) -> list[ApiKey]:
    """`api_keys` as a list, each last_used_at including a use noted since the last flush,
    so a partner who has just tried a key sees it used."""
    api_keys = list(api_keys)
    if not api_keys or not enabled():
        return api_keys
    try:
        noted = _store().redis.hmget(USAGE_KEY, [k.digest for k in api_keys])
    except redis.RedisError:
        return api_keys
    for api_key, seconds in zip(api_keys, noted, strict=True):
        if seconds is not None:
            used = datetime.fromtimestamp(int(seconds), tz=UTC)
            api_key.last_used_at = max(used, api_key.last_used_at or used)
    return api_keys


def flush_usage() -> int:
    """Write the uses noted since the last flush to ApiKey.last_used_at; how many keys."""
    if not enabled():
        return 0
    raw = _store().take_usage(keys=[USAGE_KEY])
    used = {
        raw[i].decode(): datetime.fromtimestamp(int(raw[i + 1]), tz=UTC)
        for i in range(0, len(raw), 2)
    }
    if not used:
        return 0
    api_keys = list(ApiKey.objects.filter(digest__in=used).only("id", "digest", "last_used_at"))
    for api_key in api_keys:
        noted = used[api_key.digest]
        api_key.last_used_at = max(noted, api_key.last_used_at or noted)
    ApiKey.objects.bulk_update(api_keys, ["last_used_at"], batch_size=500)
    return len(api_keys)


def _forget_changed_key(sender, instance, created=False, **kwargs):
    if not created:
        forget([instance.digest])


def _forget_changed_partner(sender, instance, created=False, **kwargs):
    if not created:
        forget_partner(instance.pk)


def connect_signals() -> None:
    """Saves and deletes that bypass partners.services (the admin's forms, a shell) drop
    the cached copies too. A partner's deletion deletes its keys, one signal each."""
    from django.db.models.signals import post_delete, post_save

    post_save.connect(_forget_changed_key, sender=ApiKey, dispatch_uid="key_cache.key_saved")
    post_delete.connect(_forget_changed_key, sender=ApiKey, dispatch_uid="key_cache.key_gone")
    post_save.connect(
        _forget_changed_partner, sender=Partner, dispatch_uid="key_cache.partner_saved"
    )
