"""Typed results. Each keeps the answer's JSON as `raw`, so a field Rheo adds later is
there before the SDK names it. Money is `Decimal` (prices have öre), times are aware
`datetime`s in UTC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class HostedImage:
    url: str
    thumbnail_url: str
    width: int
    height: int
    source_url: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HostedImage:
        return cls(
            data["url"], data["thumbnailUrl"], data["width"], data["height"], data["sourceUrl"]
        )


@dataclass(frozen=True)
class Issue:
    """An image URL that failed for good (`field` like `imageUrls[1]`), or what Tradera
    refused (`field` None)."""

    code: str
    message: str
    field: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Issue:
        return cls(data["code"], data["message"], data.get("field"))


@dataclass(frozen=True)
class Item:
    """An item as `GET /integration/v1/items/<externalId>` shows it."""

    external_id: str
    rheo_item_id: str
    rheo_status: str
    tradera_status: str | None
    tradera_ad_id: str | None
    tradera_ad_url: str | None
    price: Decimal
    title: str
    description: str
    enhanced_title: str | None
    enhanced_description: str | None
    images: list[HostedImage]
    issues: list[Issue]
    source_version: int | None
    etag: str | None = None  # from GET of one item; pass it as if_match to the PATCHes
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], etag: str | None = None) -> Item:
        return cls(
            external_id=data["externalId"],
            rheo_item_id=str(data["rheoItemId"]),
            rheo_status=data["rheoStatus"],
            tradera_status=data.get("traderaStatus"),
            tradera_ad_id=data.get("traderaAdId"),
            tradera_ad_url=data.get("traderaAdUrl"),
            price=Decimal(str(data["price"])),
            title=data["title"],
            description=data.get("description", ""),
            enhanced_title=data.get("enhancedTitle"),
            enhanced_description=data.get("enhancedDescription"),
            images=[HostedImage.from_json(i) for i in data.get("images", [])],
            issues=[Issue.from_json(i) for i in data.get("issues", [])],
            source_version=data.get("sourceVersion"),
            etag=etag,
            raw=data,
        )


@dataclass(frozen=True)
class WriteResult:
    """The `202` of a PUT, PATCH, DELETE or simulate (or the `200` of a validate-only PUT).

    `outcome` (`created`, `updated`, `unchanged`, `stale`) and `changed_fields` come with a
    PUT; `item_id` is None for a validate-only create.
    """

    success: bool
    item_id: str | None
    message: str
    outcome: str | None = None
    changed_fields: list[str] | None = None
    validate_only: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WriteResult:
        return cls(
            success=bool(data.get("success", True)),
            item_id=None if data.get("itemId") is None else str(data["itemId"]),
            message=data.get("message", ""),
            outcome=data.get("outcome"),
            changed_fields=data.get("changedFields"),
            validate_only=bool(data.get("validateOnly", False)),
            raw=data,
        )


@dataclass(frozen=True)
class BatchError:
    code: str
    message: str
    fields: dict[str, list[str]] | None


@dataclass(frozen=True)
class BatchItemResult:
    """One entry of a batch's answer, in the request's order."""

    external_id: str | None
    outcome: str  # created, updated, unchanged, stale, invalid, refused
    item_id: str | None
    error: BatchError | None
    changed_fields: list[str] | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome not in ("invalid", "refused")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchItemResult:
        error = data.get("error")
        return cls(
            external_id=data.get("externalId"),
            outcome=data["outcome"],
            item_id=None if data.get("itemId") is None else str(data["itemId"]),
            error=None
            if error is None
            else BatchError(error["code"], error["message"], error.get("fields")),
            changed_fields=data.get("changedFields"),
        )


@dataclass(frozen=True)
class BatchResult:
    validate_only: bool
    counts: dict[str, int]
    results: list[BatchItemResult]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchResult:
        return cls(
            validate_only=bool(data.get("validateOnly", False)),
            counts=dict(data.get("counts", {})),
            results=[BatchItemResult.from_json(r) for r in data.get("results", [])],
            raw=data,
        )


@dataclass(frozen=True)
class ItemPage:
    items: list[Item]
    next_cursor: str | None


@dataclass(frozen=True)
class Event:
    """An event from the feed: `payload` is the webhook body exactly as signed and sent;
    `deliveries` its delivery attempts as the API gives them."""

    event_id: str
    event_type: str
    external_id: str | None
    mode: str
    created_at: datetime | None
    sequence: int | None
    payload: dict[str, Any]
    deliveries: list[dict[str, Any]]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        return cls(
            event_id=data["eventId"],
            event_type=data["eventType"],
            external_id=data.get("externalId"),
            mode=data.get("mode", ""),
            created_at=_time(data.get("createdAt")),
            sequence=data.get("sequence"),
            payload=data.get("payload") or {},
            deliveries=list(data.get("deliveries") or []),
            raw=data,
        )


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    next_cursor: str | None  # pass as `after` for the next page
    has_more: bool

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EventPage:
        return cls(
            events=[Event.from_json(e) for e in data.get("events", [])],
            next_cursor=data.get("nextCursor"),
            has_more=bool(data.get("hasMore", False)),
        )
