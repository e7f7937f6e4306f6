"""The one error the Tradera client raises.

`permanent` is the retry decision: a transient error (a timeout, a dropped connection,
Tradera's 5xx, its quota, our own budget) may succeed later; a permanent one (a token
Tradera no longer accepts, an item it refuses, an answer we cannot read) will not.
`retry_after` is in seconds, when known.
"""

# Transient: retry later.
TIMEOUT = "timeout"
CONNECTION = "connection"
SERVER_ERROR = "server_error"
QUOTA_EXCEEDED = "quota_exceeded"  # Tradera answered 429
BUDGET_SPENT = "budget_spent"  # our own call budget is spent; no call was made
TRY_AGAIN = "try_again"  # a queued request Tradera asks us to send again

# Permanent: retrying will not help.
TOKEN_INVALID = "token_invalid"  # noqa: S105 - 403: the seller's token is wrong, revoked or expired
FORBIDDEN = "forbidden"  # 403 on a call without a seller: the application's keys
REFUSED = "refused"  # Tradera refused the request; the message is its reason
MALFORMED_RESPONSE = "malformed_response"
HTTP_ERROR = "http_error"  # any other HTTP status

TRANSIENT = frozenset({TIMEOUT, CONNECTION, SERVER_ERROR, QUOTA_EXCEEDED, BUDGET_SPENT, TRY_AGAIN})


class TraderaError(Exception):
    def __init__(self, code: str, message: str, *, retry_after: float | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.permanent = code not in TRANSIENT
        self.retry_after = retry_after

    @property
    def deferred(self) -> bool:
        """The call quota is spent: the work waits for the window; it has not failed and
        should not count as an attempt."""
        return self.code in (QUOTA_EXCEEDED, BUDGET_SPENT)

    def __repr__(self) -> str:
        return f"TraderaError({self.code!r}, {self.message!r}, retry_after={self.retry_after})"
