"""Tradera's call quota as one budget, shared by every process.

Tradera allows an application a number of calls per 24 hours (100 unless it raises it),
all partners together. Whether its window rolls or resets at midnight is unconfirmed, so
the budget counts calls in a rolling 24-hour window, which stays within either. A share
is reserved for the sync: publishing may spend only `allowance - reserve`, the sync all
of it, so a burst of publishing can never starve the watching of auctions.

With Redis the count is a sorted set of call timestamps, checked and updated by one Lua
call on Redis's clock, exact across processes and machines. Without Redis (the embedded
default, one machine) it lives in the process. When the budget is spent, `spend` answers
`Deferred(until)`: the work waits for the window, it has not failed.

For admin, spent calls are also counted per operation and UTC day in a Redis hash,
`tradera:budget:<name>:ops:<YYYY-MM-DD>` (kept 35 days); `usage(day)` reads it.
"""

import logging
import math
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal, Protocol

import redis

logger = logging.getLogger(__name__)

Purpose = Literal["publish", "sync"]
DAY_SECONDS = 24 * 60 * 60
MICROS = 1_000_000


@dataclass(frozen=True)
class Spent:
    remaining: int  # calls this purpose may still make in the window


@dataclass(frozen=True)
class Deferred:
    until: datetime

    @property
    def seconds(self) -> float:
        return max(0.0, (self.until - datetime.now(UTC)).total_seconds())


class Budget(Protocol):
    def spend(
        self, purpose: Purpose, calls: int = 1, *, operation: str = ""
    ) -> Spent | Deferred: ...

    def block_until(self, until: datetime) -> None:
        """Tradera said its quota is spent (429): spend nothing more before `until`."""


class UnlimitedBudget:
    """Every call allowed; for tests and tools that must not count."""

    def spend(self, purpose: Purpose, calls: int = 1, *, operation: str = "") -> Spent:
        return Spent(remaining=math.inf)  # type: ignore[arg-type]

    def block_until(self, until: datetime) -> None:
        pass


_SPEND_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local calls = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then
  return {0, string.format('%.0f', blocked), 0}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used + calls > limit then
  -- the call may go once enough of the oldest calls have left the window
  local oldest = redis.call('ZRANGE', KEYS[1], used + calls - limit - 1, used + calls - limit - 1,
                            'WITHSCORES')
  local free_at = now + window
  if #oldest == 2 then free_at = tonumber(oldest[2]) + window end
  return {0, string.format("%.0f", free_at), 0}
end
for _ = 1, calls do
  local seq = redis.call('INCR', KEYS[4])
  redis.call('ZADD', KEYS[1], now, string.format('%.0f', now) .. ':' .. seq)
end
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
if ARGV[4] ~= '' then
  redis.call('HINCRBY', KEYS[3], ARGV[4], calls)
  redis.call('EXPIRE', KEYS[3], 35 * 86400)
end
return {1, string.format('%.0f', now), limit - used - calls}
"""


class CallBudget:
    """The application's calls per rolling window, `reserve` of them for the sync.

    `name` separates budgets that are separate quotas (live Tradera, the sandbox)."""

    def __init__(
        self,
        name: str,
        *,
        allowance: int,
        sync_reserve: float = 0.2,
        redis_url: str = "",
        window_seconds: int = DAY_SECONDS,
    ):
        if not 0 <= sync_reserve < 1:
            raise ValueError("sync_reserve is a fraction of the allowance, from 0 to below 1")
        self.name = name
        self.allowance = allowance
        self.reserve = round(allowance * sync_reserve)
        self.window_seconds = window_seconds
        self._redis = (
            redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
            if redis_url
            else None
        )
        self._script = self._redis.register_script(_SPEND_LUA) if self._redis else None
        self._local = _LocalWindow()

    def limit(self, purpose: Purpose) -> int:
        return self.allowance if purpose == "sync" else self.allowance - self.reserve

    def spend(self, purpose: Purpose, calls: int = 1, *, operation: str = "") -> Spent | Deferred:
        limit = self.limit(purpose)
        if calls > limit:
            raise ValueError(f"{calls} calls can never fit in {purpose}'s {limit} a window")
        window_us = self.window_seconds * MICROS
        if self._script is None:
            allowed, at_us, remaining = self._local.spend(limit, calls, window_us, operation)
        else:
            try:
                allowed, at_us, remaining = self._script(
                    keys=[
                        self._key("calls"),
                        self._key("blocked"),
                        self._ops_key(),
                        self._key("seq"),
                    ],
                    args=[limit, calls, window_us, operation],
                )
            except redis.RedisError:
                # Tradera's own 429 still stops us; an unreachable Redis must not stop Rheo.
                logger.exception("Tradera call budget unavailable; call allowed without counting")
                return Spent(remaining=0)
        if int(allowed):
            return Spent(remaining=int(remaining))
        return Deferred(until=datetime.fromtimestamp(int(at_us) / MICROS, UTC))

    def block_until(self, until: datetime) -> None:
        until_us = int(until.timestamp() * MICROS)
        if self._redis is None:
            self._local.blocked_until_us = max(self._local.blocked_until_us, until_us)
            return
        ttl_ms = max(1, math.ceil((until - datetime.now(UTC)).total_seconds() * 1000))
        try:
            self._redis.set(self._key("blocked"), until_us, px=ttl_ms)
        except redis.RedisError:
            logger.exception("Tradera call budget unavailable; 429 not recorded")

    def used(self) -> int:
        """Calls spent in the current window."""
        if self._redis is None:
            return self._local.used(self.window_seconds * MICROS)
        now = time.time()
        return int(
            self._redis.zcount(self._key("calls"), (now - self.window_seconds) * MICROS, "+inf")
        )

    def usage(self, day: date | None = None) -> dict[str, int]:
        """Calls spent per operation on a UTC day (today by default)."""
        day = day or datetime.now(UTC).date()
        if self._redis is None:
            return dict(self._local.ops.get(day, {}))
        raw = self._redis.hgetall(self._ops_key(day))
        return {k.decode(): int(v) for k, v in raw.items()}

    def _key(self, part: str) -> str:
        return f"tradera:budget:{self.name}:{part}"

    def _ops_key(self, day: date | None = None) -> str:
        day = day or datetime.now(UTC).date()
        return self._key(f"ops:{day.isoformat()}")


class _LocalWindow:
    """The Lua script again, for one process without Redis."""

    def __init__(self):
        self._lock = threading.Lock()
        self._calls: deque[int] = deque()
        self.blocked_until_us = 0
        self.ops: dict[date, Counter] = {}

    def spend(self, limit: int, calls: int, window_us: int, operation: str):
        with self._lock:
            now = time.time_ns() // 1000
            if self.blocked_until_us > now:
                return 0, self.blocked_until_us, 0
            self._forget(now, window_us)
            used = len(self._calls)
            if used + calls > limit:
                index = used + calls - limit - 1
                oldest = self._calls[index] if 0 <= index < used else now
                return 0, oldest + window_us, 0
            self._calls.extend([now] * calls)
            if operation:
                day = datetime.fromtimestamp(now / MICROS, UTC).date()
                self.ops.setdefault(day, Counter())[operation] += calls
            return 1, now, limit - used - calls

    def used(self, window_us: int) -> int:
        with self._lock:
            self._forget(time.time_ns() // 1000, window_us)
            return len(self._calls)

    def _forget(self, now: int, window_us: int) -> None:
        while self._calls and self._calls[0] <= now - window_us:
            self._calls.popleft()
