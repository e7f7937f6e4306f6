"""The one exception the SDK raises for anything the API or the network refused."""

from __future__ import annotations

from typing import Any


class RheoError(Exception):
    """An error answer of Rheo's (its `error` object), or a network failure.

    `code`, `message`, `fields` and `request_id` are the API's `code`, `message`, `fields`
    and `requestId` (see docs/integration-api.md, Errors). `status` is the HTTP status, or
    `None` when no answer came (`code` is then `connection_error` or `timeout`).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        fields: dict[str, list[str]] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" + (f" ({request_id})" if request_id else ""))
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields
        self.request_id = request_id
        self.retry_after = retry_after

    @property
    def requestId(self) -> str | None:  # noqa: N802 - the API's own name, for grepping logs
        return self.request_id

    @classmethod
    def from_answer(
        cls, status: int, body: Any, request_id: str | None, retry_after: float | None
    ) -> RheoError:
        """From an error answer; a body not in Rheo's format (a proxy's page) still makes one."""
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            return cls(
                error["code"],
                str(error.get("message", "")),
                status=status,
                fields=error.get("fields"),
                request_id=error.get("requestId") or request_id,
                retry_after=retry_after,
            )
        return cls(
            f"http_{status}",
            f"HTTP {status} without Rheo's error body",
            status=status,
            request_id=request_id,
            retry_after=retry_after,
        )
