"""Rate limits, exact across processes: a DRF throttle (RateLimitThrottle) for the APIs,
`hit` for plain Django views.

The algorithm is GCRA (the generic cell rate algorithm, a token bucket kept as one
timestamp): each request pushes the key's "theoretical arrival time" (TAT) forward by
`period / limit`; a request is refused when that would put the TAT more than one full
period ahead of now. A burst of `limit` requests passes at once, then one every
`period / limit`.

With Redis the check-and-update is one Lua call on Redis's own clock, so every web process
on every machine shares one exact count; if Redis does not answer, requests pass
uncounted (logged). Without Redis (the embedded default) the state lives in the process,
which is exact because the web server then runs as one process (see rheo/gunicorn.py).
"""

import logging
import math
import threading
import time
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from rheo.errors import ServiceError

logger = logging.getLogger(__name__)

MICROS = 1_000_000


@dataclass(frozen=True)
class Rate:
    limit: int
    period_us: int

    @classmethod
    def parse(cls, text: str) -> "Rate":
        """'10/1s' or '10/s' → Rate(10, 1 s)."""
        count, _, period = text.partition("/")
        seconds = period.removesuffix("s") or "1"
        return cls(limit=int(count), period_us=int(float(seconds) * MICROS))

    @property
    def interval_us(self) -> int:
        return self.period_us // self.limit

    @property
    def window_seconds(self) -> int:
        return max(1, math.ceil(self.period_us / MICROS))


@dataclass(frozen=True)
class Decision:
    tier: str
    rate: Rate
    allowed: bool
    remaining: int
    reset_us: int  # until the allowance is whole again
    retry_after_us: int  # until the next request may pass (0 when allowed)

    @property
    def retry_after_seconds(self) -> int:
        return max(1, math.ceil(self.retry_after_us / MICROS))

    def headers(self) -> dict[str, str]:
        reset = math.ceil(self.reset_us / MICROS)
        policy = f'"{self.tier}";q={self.rate.limit};w={self.rate.window_seconds}'
        headers = {
            # draft-ietf-httpapi-ratelimit-headers, current form ...
            "RateLimit-Policy": policy,
            "RateLimit": f'"{self.tier}";r={self.remaining};t={reset}',
            # ... and the earlier one most client libraries read.
            "RateLimit-Limit": str(self.rate.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(reset),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


def gcra(tat_us: int, now_us: int, rate: Rate) -> tuple[bool, int, int, int, int]:
    """One GCRA step → (allowed, new TAT, remaining, reset_us, retry_after_us).

    The Lua script below is this function again; the two must stay in step."""
    tat = max(tat_us, now_us)
    new_tat = tat + rate.interval_us
    allow_at = new_tat - rate.interval_us * rate.limit
    if now_us < allow_at:
        return False, tat, 0, tat - now_us, allow_at - now_us
    remaining = (now_us - allow_at) // rate.interval_us
    return True, new_tat, remaining, new_tat - now_us, 0


# GCRA again, on Redis's clock: one atomic call per request, shared by every process.
_GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * limit
if now < allow_at then
  return {0, 0, tat - now, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, math.floor((now - allow_at) / interval), new_tat - now, 0}
"""


class RedisLimiter:
    def __init__(self, url: str):
        self._client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._client.register_script(_GCRA_LUA)

    def hit(self, key: str, rate: Rate) -> tuple[bool, int, int, int]:
        allowed, remaining, reset_us, retry_us = self._script(
            keys=[key], args=[rate.interval_us, rate.limit]
        )
        return bool(allowed), int(remaining), int(reset_us), int(retry_us)


class LocalLimiter:
    def __init__(self, clock=time.monotonic_ns):
        self._clock = clock
        self._lock = threading.Lock()
        self._tats: dict[str, int] = {}

    def hit(self, key: str, rate: Rate) -> tuple[bool, int, int, int]:
        with self._lock:
            now = self._clock() // 1000
            if len(self._tats) > 100_000:  # forget keys whose allowance is whole again
                self._tats = {k: t for k, t in self._tats.items() if t > now}
            allowed, tat, remaining, reset_us, retry_us = gcra(self._tats.get(key, 0), now, rate)
            self._tats[key] = tat
            return allowed, remaining, reset_us, retry_us


@cache
def _limiter(redis_url: str):
    return RedisLimiter(redis_url) if redis_url else LocalLimiter()


@cache
def _rate(text: str) -> Rate:
    return Rate.parse(text)


def rate_of(tier: str) -> Rate:
    return _rate(settings.RHEO_RATE_LIMITS[tier])


def bucket(tier: str, subject: str) -> str:
    """The Redis key of `subject`'s allowance in `tier`."""
    return f"rl:{tier}:{subject}"


def hit(tier: str, subject: str) -> Decision:
    """Count one request of `subject` (an API key's digest, a partner's id, a client
    address) in `tier`. Redis errors let the request through, logged."""
    rate = rate_of(tier)
    try:
        counted = _limiter(settings.REDIS_URL).hit(bucket(tier, subject), rate)
    except redis.RedisError:
        # The limiter protects the service; it must not take it down. Fail open, loudly.
        logger.exception("Rate limiter unavailable; request allowed without counting")
        counted = (True, rate.limit - 1, 0, 0)
    allowed, remaining, reset_us, retry_us = counted
    return Decision(tier, rate, allowed, remaining, reset_us, retry_us)


def refusal(decision: Decision) -> ServiceError:
    """The rate_limited (429) error for a refused request."""
    window = decision.rate.window_seconds
    per = "second" if window == 1 else f"{window} seconds"
    return ServiceError(
        "rate_limited",
        f"Rate limit of {decision.rate.limit} requests per {per} ({decision.tier}) exceeded; "
        f"retry after {decision.retry_after_seconds} s, with exponential backoff.",
    )


class RateLimitThrottle(BaseThrottle):
    """A DRF throttle: counts the request in the view's tier (`get_rate_limit_tier`) of
    one subject's allowance, with one call to `hit`. Subclasses name the subject. The
    decision is kept on the view (`view.rate_limit`, see RateLimitMixin)."""

    def subject(self, request) -> str:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        self.decision = hit(view.get_rate_limit_tier(request), self.subject(request))
        view.rate_limit = self.decision
        return self.decision.allowed

    def wait(self) -> float:
        return self.decision.retry_after_us / MICROS


class ClientAddressThrottle(RateLimitThrottle):
    """Per client address (REMOTE_ADDR; X-Forwarded-For is the client's to forge)."""

    def subject(self, request) -> str:
        return request.META.get("REMOTE_ADDR", "")


# For DRF views throttled by a RateLimitThrottle: the tier is `rate_limit_tier` (override
# `get_rate_limit_tier` to choose per request); a refusal is rate_limited (429) in the
# error format; every response to a counted request carries the RateLimit headers (and
# Retry-After when refused). It subclasses APIView so the type checker knows the methods
# it extends; mixed in before a view class, the MRO is the same as a bare mixin's.
# (A comment: the OpenAPI schema shows a view's docstring.)
class RateLimitMixin(APIView):
    rate_limit_tier: str = ""
    # The throttle's decision on this request; a view instance serves one request.
    rate_limit: Decision | None = None

    def get_rate_limit_tier(self, request) -> str:
        return self.rate_limit_tier

    def throttled(self, request, wait):
        # Only a RateLimitThrottle refuses these views, and it has kept its decision here.
        assert self.rate_limit is not None
        raise refusal(self.rate_limit)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.rate_limit is not None:
            for header, value in self.rate_limit.headers().items():
                response[header] = value
        return response
