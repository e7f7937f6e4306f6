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

A job that knows its next calls (a publish: AddItem, its images, AddItemCommit,
GetRequestResults) pays for them at once with `spend_ahead`, one round trip for all, and
gives back with `refund` those it did not make (it stopped half-way), so the count stays
exact. Calls paid ahead are recorded as made at the latest moment they can be (`ahead`
seconds on), so they leave the window no earlier than Tradera's own count of them.

For admin, spent calls are also counted per operation and UTC day in a Redis hash,
`tradera:budget:<name>:ops:<YYYY-MM-DD>` (kept 35 days); `usage(day)` reads it.
"""

import bisect
import logging
import math
import threading
import time
from collections import Counter
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
class Prepaid:
    """Calls paid ahead (spend_ahead): what `refund` needs to give back unused ones."""

    receipt: tuple[str, ...]  # the calls as recorded; empty when nothing was recorded
    day: date  # the UTC day their operations were counted under


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

    def spend_ahead(
        self, purpose: Purpose, operations: list[str], *, ahead_seconds: float
    ) -> Prepaid | Deferred | None: ...

    def refund(self, prepaid: Prepaid, operations: list[str]) -> None: ...

    def block_until(self, until: datetime) -> None:
        """Tradera said its quota is spent (429): spend nothing more before `until`."""


class UnlimitedBudget:
    """Every call allowed; for tests and tools that must not count."""

    def spend(self, purpose: Purpose, calls: int = 1, *, operation: str = "") -> Spent:
        return Spent(remaining=math.inf)  # type: ignore[arg-type]

    def spend_ahead(self, purpose: Purpose, operations: list[str], *, ahead_seconds: float):
        return None  # nothing to pay: each call goes as it comes

    def refund(self, prepaid: Prepaid, operations: list[str]) -> None:
        pass

    def block_until(self, until: datetime) -> None:
        pass


# KEYS: the calls, the 429 block, the day's count per operation, the sequence.
# ARGV: limit, calls, window (µs), ahead (µs: the calls are recorded as made that much
# later), then the operation of each call to count for admin (none, or one per call).
# Answers {allowed, now or free-at, remaining, the calls as recorded...}.
_SPEND_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local calls = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local ahead = tonumber(ARGV[4])
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
local receipt = {}
for i = 1, calls do
  local member = string.format('%.0f', now + ahead) .. ':' .. redis.call('INCR', KEYS[4])
  redis.call('ZADD', KEYS[1], now + ahead, member)
  receipt[i] = member
end
redis.call('PEXPIRE', KEYS[1], math.ceil((window + ahead) / 1000))
for i = 5, #ARGV do
  redis.call('HINCRBY', KEYS[3], ARGV[i], 1)
end
if #ARGV >= 5 then
  redis.call('EXPIRE', KEYS[3], 35 * 86400)
end
return {1, string.format('%.0f', now), limit - used - calls, unpack(receipt)}
"""

# KEYS: the calls, the day's count per operation. ARGV: n, n recorded calls, operations.
_REFUND_LUA = """
local n = tonumber(ARGV[1])
for i = 2, n + 1 do
  redis.call('ZREM', KEYS[1], ARGV[i])
end
for i = n + 2, #ARGV do
  redis.call('HINCRBY', KEYS[2], ARGV[i], -1)
end
return n
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
        self._refund_script = self._redis.register_script(_REFUND_LUA) if self._redis else None
        self._local = _LocalWindow()

    def limit(self, purpose: Purpose) -> int:
        return self.allowance if purpose == "sync" else self.allowance - self.reserve

    def spend(self, purpose: Purpose, calls: int = 1, *, operation: str = "") -> Spent | Deferred:
        limit = self.limit(purpose)
        if calls > limit:
            raise ValueError(f"{calls} calls can never fit in {purpose}'s {limit} a window")
        decision, _receipt = self._spend(limit, calls, [operation] * calls if operation else [], 0)
        return decision

    def spend_ahead(
        self, purpose: Purpose, operations: list[str], *, ahead_seconds: float
    ) -> Prepaid | Deferred | None:
        """Pay for these calls (one operation each) at once, or for none of them. None when
        they could never fit in the purpose's share: then they are paid one by one."""
        if len(operations) > self.limit(purpose):
            return None
        day = datetime.now(UTC).date()
        decision, receipt = self._spend(
            self.limit(purpose), len(operations), operations, int(ahead_seconds * MICROS), day
        )
        return decision if isinstance(decision, Deferred) else Prepaid(receipt=receipt, day=day)

    def refund(self, prepaid: Prepaid, operations: list[str]) -> None:
        """Give back calls paid ahead that were not made, one of these operations each."""
        unused = list(prepaid.receipt[len(prepaid.receipt) - len(operations) :])
        if not unused:
            return
        if self._refund_script is None:
            self._local.refund(unused, operations, prepaid.day)
            return
        try:
            self._refund_script(
                keys=[self._key("calls"), self._ops_key(prepaid.day)],
                args=[len(unused), *unused, *operations],
            )
        except redis.RedisError:  # counted too many: the budget errs on Tradera's side
            logger.exception("Tradera call budget unavailable; unused calls not given back")

    def _spend(self, limit: int, calls: int, operations: list[str], ahead_us: int, day=None):
        window_us = self.window_seconds * MICROS
        if self._script is None:
            allowed, at_us, remaining, *receipt = self._local.spend(
                limit, calls, window_us, operations, ahead_us
            )
        else:
            try:
                allowed, at_us, remaining, *receipt = self._script(
                    keys=[
                        self._key("calls"),
                        self._key("blocked"),
                        self._ops_key(day),
                        self._key("seq"),
                    ],
                    args=[limit, calls, window_us, ahead_us, *operations],
                )
            except redis.RedisError:
                # Tradera's own 429 still stops us; an unreachable Redis must not stop Rheo.
                logger.exception("Tradera call budget unavailable; call allowed without counting")
                return Spent(remaining=0), ()
        if int(allowed):
            return Spent(remaining=int(remaining)), tuple(
                r.decode() if isinstance(r, bytes) else r for r in receipt
            )
        return Deferred(until=datetime.fromtimestamp(int(at_us) / MICROS, UTC)), ()

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
            return {op: n for op, n in self._local.ops.get(day, {}).items() if n}
        raw = self._redis.hgetall(self._ops_key(day))
        # A refund can leave a count at 0: no usage.
        return {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in raw.items() if int(v)}

    def _key(self, part: str) -> str:
        return f"tradera:budget:{self.name}:{part}"

    def _ops_key(self, day: date | None = None) -> str:
        day = day or datetime.now(UTC).date()
        return self._key(f"ops:{day.isoformat()}")


class _LocalWindow:
    """The Lua scripts again, for one process without Redis."""

    def __init__(self):
        self._lock = threading.Lock()
        self._calls: list[int] = []  # sorted: calls paid ahead are recorded later
        self.blocked_until_us = 0
        self.ops: dict[date, Counter] = {}

    def spend(self, limit: int, calls: int, window_us: int, operations: list[str], ahead_us):
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
            for _ in range(calls):
                bisect.insort(self._calls, now + ahead_us)
            day = datetime.fromtimestamp(now / MICROS, UTC).date()
            self.ops.setdefault(day, Counter()).update(operations)
            return 1, now, limit - used - calls, *[str(now + ahead_us)] * calls

    def refund(self, receipt: list[str], operations: list[str], day: date) -> None:
        with self._lock:
            for recorded in receipt:
                index = bisect.bisect_left(self._calls, int(recorded))
                if index < len(self._calls) and self._calls[index] == int(recorded):
                    del self._calls[index]
            self.ops.setdefault(day, Counter()).subtract(operations)

    def used(self, window_us: int) -> int:
        with self._lock:
            self._forget(time.time_ns() // 1000, window_us)
            return len(self._calls)

    def _forget(self, now: int, window_us: int) -> None:
        del self._calls[: bisect.bisect_right(self._calls, now - window_us)]
