"""`Rheo`: the Integration API (`/integration/v1/`) for one API key."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import requests

from rheo_client import __version__
from rheo_client.errors import RheoError
from rheo_client.models import BatchResult, Event, EventPage, Item, ItemPage, WriteResult
from rheo_client.retry import IDEMPOTENT_METHODS, RetryPolicy, parse_retry_after

BATCH_LIMIT = 100  # items in one POST …/items/batch
DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds


def _json_default(value: Any) -> Any:
    # Rheo's types are strict ("950" is refused): a Decimal goes as a JSON number.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _time_param(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _item_path(external_id: str) -> str:
    if not external_id or "/" in external_id:
        raise ValueError(f"an external id is 1 to 255 characters without '/': {external_id!r}")
    return "/integration/v1/items/" + quote(external_id, safe="")


class Rheo:
    """A client of Rheo's Integration API.

    `api_key` and `base_url` default to the environment: `RHEO_API_KEY` (or the README's
    `RHEO_KEY`) and `RHEO_BASE_URL` (or `RHEO`). Item bodies are dicts in the API's own
    camelCase, exactly as docs/integration-api.md shows them.

    Every call retries what may pass later (see `rheo_client.retry`): a `429` after its
    `Retry-After`, and, for idempotent calls only (all but `simulate`), a `5xx` or a
    network error with exponential backoff from 1 s. What still fails raises `RheoError`.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        api_key = api_key or os.environ.get("RHEO_API_KEY") or os.environ.get("RHEO_KEY")
        base_url = base_url or os.environ.get("RHEO_BASE_URL") or os.environ.get("RHEO")
        if not api_key:
            raise ValueError("no API key: pass api_key= (rheo --api-key) or set RHEO_API_KEY")
        if not base_url:
            raise ValueError("no base URL: pass base_url= (rheo --base-url) or set RHEO_BASE_URL")
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        self.session.headers.update(
            {"x-api-key": api_key, "User-Agent": f"rheo-client-python/{__version__}"}
        )

    @property
    def test_mode(self) -> bool:
        return self.api_key.startswith("rheo_test_")

    # -- items -------------------------------------------------------------------------

    def put_item(
        self, external_id: str, item: Mapping[str, Any], *, validate_only: bool = False
    ) -> WriteResult:
        """Create or update (`PUT`). `result.outcome` says which: `created`, `updated`,
        `unchanged` or `stale`. With `validate_only`, nothing is written and the outcome
        is what would happen."""
        params = {"validateOnly": "true"} if validate_only else None
        body = self._request("PUT", _item_path(external_id), json_body=item, params=params)
        return WriteResult.from_json(body)

    def get_item(self, external_id: str) -> Item:
        """One item; `item.etag` is its ETag, for `if_match` on the PATCHes."""
        body, response = self._request_full("GET", _item_path(external_id))
        return Item.from_json(body, etag=response.headers.get("ETag"))

    def delete_item(self, external_id: str) -> WriteResult:
        """Delete (or archive, while an order is in progress)."""
        return WriteResult.from_json(self._request("DELETE", _item_path(external_id)))

    def update_price(
        self, external_id: str, price: Decimal | int | float, *, if_match: str | None = None
    ) -> WriteResult:
        """`PATCH …/price` of an `active` item; `if_match` makes it conditional (`412`)."""
        return WriteResult.from_json(
            self._request(
                "PATCH",
                _item_path(external_id) + "/price",
                json_body={"price": price},
                headers={"If-Match": if_match} if if_match else None,
            )
        )

    def update_status(
        self, external_id: str, status: str, *, if_match: str | None = None
    ) -> WriteResult:
        """`PATCH …/status` to `not_listed` or `sold`."""
        return WriteResult.from_json(
            self._request(
                "PATCH",
                _item_path(external_id) + "/status",
                json_body={"status": status},
                headers={"If-Match": if_match} if if_match else None,
            )
        )

    def simulate(
        self,
        external_id: str,
        event: str,
        *,
        sale_price: Decimal | int | float | None = None,
        error_code: str | None = None,
    ) -> WriteResult:
        """Test keys only: make the Tradera sandbox `sold`, `ended` or `failed` the item's
        auction; the webhook follows. Not idempotent (a second `sold` is a `409`), so a
        `5xx` or a network error is not retried."""
        body: dict[str, Any] = {"event": event}
        if sale_price is not None:
            body["salePrice"] = sale_price
        if error_code is not None:
            body["errorCode"] = error_code
        return WriteResult.from_json(
            self._request(
                "POST", _item_path(external_id) + "/simulate", json_body=body, idempotent=False
            )
        )

    def batch_upsert(
        self, items: Iterable[Mapping[str, Any]], *, validate_only: bool = False
    ) -> BatchResult:
        """`POST /integration/v1/items/batch`: up to 100 items, each with its `externalId`.
        One result per item, in order; one bad item never sinks the batch. An upsert, so
        it is retried as an idempotent call."""
        entries = [dict(item) for item in items]
        if not 1 <= len(entries) <= BATCH_LIMIT:
            raise ValueError(f"a batch holds 1 to {BATCH_LIMIT} items, not {len(entries)}")
        body = self._request(
            "POST",
            "/integration/v1/items/batch",
            json_body={"items": entries},
            params={"validateOnly": "true"} if validate_only else None,
            idempotent=True,
        )
        return BatchResult.from_json(body)

    def list_items_page(
        self,
        *,
        rheo_status: str | None = None,
        tradera_status: str | None = None,
        updated_since: datetime | str | None = None,
        q: str | None = None,
        external_ids: Iterable[str] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> ItemPage:
        """One page of `GET /integration/v1/items`."""
        params = {
            "rheoStatus": rheo_status,
            "traderaStatus": tradera_status,
            "updatedSince": _time_param(updated_since),
            "q": q,
            "externalIds": None if external_ids is None else ",".join(external_ids),
            "limit": limit,
            "cursor": cursor,
        }
        body = self._request("GET", "/integration/v1/items", params=params)
        return ItemPage([Item.from_json(i) for i in body["items"]], body.get("nextCursor"))

    def list_items(
        self,
        *,
        rheo_status: str | None = None,
        tradera_status: str | None = None,
        updated_since: datetime | str | None = None,
        q: str | None = None,
        external_ids: Iterable[str] | None = None,
        page_size: int = 200,
    ) -> Iterator[Item]:
        """Every matching item, page after page (ordered by external id) as you iterate."""
        ids = None if external_ids is None else list(external_ids)
        cursor: str | None = None
        while True:
            page = self.list_items_page(
                rheo_status=rheo_status,
                tradera_status=tradera_status,
                updated_since=updated_since,
                q=q,
                external_ids=ids,
                limit=page_size,
                cursor=cursor,
            )
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    # -- events ------------------------------------------------------------------------

    def events_page(
        self,
        *,
        after: str | None = None,
        type: str | None = None,  # noqa: A002 - the API's parameter
        external_id: str | None = None,
        created_after: datetime | str | None = None,
        created_before: datetime | str | None = None,
        limit: int | None = None,
    ) -> EventPage:
        """One page of `GET /integration/v1/events`, oldest first."""
        params = {
            "after": after,
            "type": type,
            "externalId": external_id,
            "createdAfter": _time_param(created_after),
            "createdBefore": _time_param(created_before),
            "limit": limit,
        }
        return EventPage.from_json(self._request("GET", "/integration/v1/events", params=params))

    def events(
        self,
        *,
        after: str | None = None,
        type: str | None = None,  # noqa: A002
        external_id: str | None = None,
        created_after: datetime | str | None = None,
        created_before: datetime | str | None = None,
        page_size: int = 200,
    ) -> Iterator[Event]:
        """Every matching event after `after`, oldest first, paging as you iterate. To
        poll, keep the last `event_id` you handled and pass it as `after` next time."""
        while True:
            page = self.events_page(
                after=after,
                type=type,
                external_id=external_id,
                created_after=created_after,
                created_before=created_before,
                limit=page_size,
            )
            yield from page.events
            if not page.has_more or not page.next_cursor:
                return
            after = page.next_cursor

    # -- transport ---------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        return self._request_full(
            method, path, json_body=json_body, params=params, headers=headers,
            idempotent=idempotent,
        )[0]  # fmt: skip

    def _request_full(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> tuple[Any, requests.Response]:
        """Send, retrying as the policy says; the answer's JSON and the response."""
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        data = None
        all_headers = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body, default=_json_default).encode()
            all_headers["Content-Type"] = "application/json"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        retry = 0
        while True:
            try:
                response = self.session.request(
                    method,
                    self.base_url + path,
                    params=query,
                    data=data,
                    headers=all_headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                code = "timeout" if isinstance(exc, requests.Timeout) else "connection_error"
                wait = self.retry.delay(retry, status=None, retry_after=None, idempotent=idempotent)
                if wait is None:
                    raise RheoError(code, f"{method} {path}: {exc}") from exc
            else:
                if response.status_code < 400:
                    body = response.json() if response.content else None
                    return body, response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                wait = self.retry.delay(
                    retry, status=response.status_code, retry_after=retry_after,
                    idempotent=idempotent,
                )  # fmt: skip
                if wait is None:
                    try:
                        body = response.json()
                    except ValueError:
                        body = None
                    raise RheoError.from_answer(
                        response.status_code,
                        body,
                        response.headers.get("X-Request-Id"),
                        retry_after,
                    )
            self.retry.sleep(wait)
            retry += 1
