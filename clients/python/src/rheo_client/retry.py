"""When to try a request again, and how long to wait first.

Exponential backoff from 1 s (1, 2, 4, 8, 16 s, at most 30 s) with up to 50 % random
jitter added, so many clients that failed together do not come back together; a `429`
waits what its `Retry-After` says instead. `sleep` and `random` are injectable, so tests
(and callers with their own scheduler) never wait for real.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

# The methods a retry cannot make happen twice. POST …/items/batch is an upsert, so the
# client marks it idempotent itself; POST …/simulate is not.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "PATCH"})
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})


@dataclass
class RetryPolicy:
    max_retries: int = 5
    base_seconds: float = 1.0
    max_seconds: float = 30.0
    jitter: float = 0.5  # up to this fraction of the delay is added at random
    # The longest Retry-After honoured; a longer one fails the call rather than hang it.
    max_retry_after_seconds: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = field(default=_random.random)

    def backoff(self, retry: int) -> float:
        """The wait before retry number `retry` (0 for the first)."""
        delay = min(self.max_seconds, self.base_seconds * 2.0**retry)
        return delay * (1 + self.jitter * self.random())

    def delay(
        self, retry: int, *, status: int | None, retry_after: float | None, idempotent: bool
    ) -> float | None:
        """Seconds to wait before retry number `retry`, or None: do not retry.

        A 429 means the request was not processed, so every call may retry it; a 5xx or
        a network error (status None) may have been processed, so only idempotent calls
        retry those.
        """
        if retry >= self.max_retries:
            return None
        if status == 429:
            if retry_after is None:
                return self.backoff(retry)
            return retry_after if retry_after <= self.max_retry_after_seconds else None
        if not idempotent:
            return None
        if status is None or status in RETRYABLE_STATUSES:
            # A 503's Retry-After is a floor: Rheo knows when it expects to be back.
            return max(self.backoff(retry), min(retry_after or 0, self.max_retry_after_seconds))
        return None


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now())
    except (TypeError, ValueError):
        return None
