"""`rheo import`: a CSV export of an ERP, mapped to items and sent in batches.

The steps (docs: clients/python/README.md, "rheo import"):
1. read and map every row (`--map title=Benämning,…`); a row that cannot be mapped (no
   external id, the same external id on two rows) is an error of its own;
2. skip rows sent before unchanged (the state file: external id → hash of the item sent);
3. validate the rest with `?validateOnly=true`, nothing written;
4. send the valid rows in batches of 100, saving the state after each batch, so an
   interrupted import resumes where it stopped;
5. follow the accepted items until they are active (and, with autoPublishTradera,
   published), or until `wait` seconds have passed;
6. a summary, and an errors CSV with every row that did not make it.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol

from rheo_client.client import BATCH_LIMIT, Rheo, _json_default
from rheo_client.models import BatchItemResult, Item

NUMBER_FIELDS = {"price", "shippingCost", "weightKg"}
INTEGER_FIELDS = {"sourceVersion", "domain.donorVehicleYear"}
BOOLEAN_FIELDS = {"autoPublishTradera", "useAiEnhancement"}
LIST_FIELDS = {"imageUrls", "domain.compatibleModels"}
TRUE = {"true", "1", "yes", "ja", "y", "j", "x"}
FALSE = {"false", "0", "no", "nej", "n", ""}
# Every field a row may fill (a PUT's, docs/integration-api.md), so a typo in --map is
# caught before anything is sent.
KNOWN_FIELDS = (
    {"externalId", "title", "description", "currency"}
    | NUMBER_FIELDS
    | INTEGER_FIELDS
    | BOOLEAN_FIELDS
    | LIST_FIELDS
    | {"domain.oemCode", "domain.manufacturer", "domain.conditionGrade"}
)
# Rheo's statuses where an item's own progress has stopped.
PUBLISHED = {"active", "sold", "ended"}


class ImportError_(ValueError):
    """The import cannot start: a bad --map, a missing column."""


def parse_assignments(spec: str | None) -> dict[str, str]:
    """`title=Benämning,price=Pris` → {"title": "Benämning", "price": "Pris"}."""
    pairs: dict[str, str] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise ImportError_(f"expected FIELD=VALUE, got {part!r}")
        pairs[name.strip()] = value.strip()
    unknown = sorted(set(pairs) - KNOWN_FIELDS)
    if unknown:
        raise ImportError_(
            f"unknown field {', '.join(unknown)}; fields: {', '.join(sorted(KNOWN_FIELDS))}"
        )
    return pairs


def _number(text: str) -> Decimal | str:
    """Swedish and English forms: `950`, `950,50`, `1 250,50`, `1,250.50`."""
    cleaned = re.sub(r"[\s\u00a0]", "", text)
    if "," in cleaned and "." in cleaned:
        thousands = "," if cleaned.index(",") < cleaned.index(".") else "."
        cleaned = cleaned.replace(thousands, "")
    cleaned = cleaned.replace(",", ".")
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return text  # sent as it is: Rheo names the field and why


def convert(name: str, text: str) -> Any:
    text = text.strip()
    if name in NUMBER_FIELDS:
        return _number(text)
    if name in INTEGER_FIELDS:
        number = _number(text)
        return int(number) if isinstance(number, Decimal) and number == int(number) else text
    if name in BOOLEAN_FIELDS:
        lowered = text.lower()
        return True if lowered in TRUE else False if lowered in FALSE else text
    if name == "imageUrls":
        return [u for u in re.split(r"[\s|;]+", text) if u]
    if name in LIST_FIELDS:
        return [m.strip() for m in re.split(r"[|;,]", text) if m.strip()]
    return text


@dataclass
class Row:
    line: int  # the CSV's line number, header = 1
    external_id: str | None
    item: dict[str, Any] | None  # the batch entry; None when the row could not be mapped
    error: tuple[str, str] | None = None  # (code, message) of a row that cannot be sent

    @property
    def digest(self) -> str:
        text = json.dumps(self.item, sort_keys=True, default=_json_default)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def publishes(self) -> bool:
        return bool(self.item and self.item.get("autoPublishTradera") is True)


def read_rows(
    path: Path, mapping: dict[str, str], constants: dict[str, str]
) -> tuple[list[Row], list[str]]:
    """The file's rows mapped to batch entries, and its columns. A field neither mapped
    nor set is read from a column of its own name (any case), if there is one."""
    with path.open(newline="", encoding="utf-8-sig") as file:
        sample = file.read(16384)
        file.seek(0)
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.DictReader(file, dialect=dialect)
        columns = list(reader.fieldnames or [])
        by_lower = {c.lower(): c for c in columns}
        columns_of = dict(mapping)
        for name in KNOWN_FIELDS - set(mapping) - set(constants):
            if name.lower() in by_lower:
                columns_of[name] = by_lower[name.lower()]
        missing = sorted(c for c in columns_of.values() if c not in columns)
        if missing:
            raise ImportError_(f"no column {', '.join(missing)} in {path}; it has: {columns}")
        if "externalId" not in columns_of:
            raise ImportError_("map the external id: --map externalId=<column>")
        rows = [_row(n, r, columns_of, constants) for n, r in enumerate(reader, start=2)]
    _mark_duplicates(rows)
    return rows, columns


def _row(
    line: int, record: dict[str, str], columns_of: dict[str, str], constants: dict[str, str]
) -> Row:
    item: dict[str, Any] = {}
    values = {name: record.get(column) or "" for name, column in columns_of.items()}
    values.update(constants)
    for name, text in values.items():
        if not text.strip() and name not in BOOLEAN_FIELDS:
            continue
        if name.startswith("domain."):
            domain = item.setdefault("domain", {"domain": "automotive_part"})
            domain[name.removeprefix("domain.")] = convert(name, text)
        elif text.strip():
            item[name] = convert(name, text)
    external_id = item.get("externalId")
    if not external_id:
        return Row(line, None, None, ("validation_error", "externalId: the cell is empty"))
    return Row(line, external_id, item)


def _mark_duplicates(rows: list[Row]) -> None:
    lines: dict[str, list[int]] = {}
    for row in rows:
        if row.external_id:
            lines.setdefault(row.external_id, []).append(row.line)
    for row in rows:
        if row.external_id and len(lines[row.external_id]) > 1:
            where = ", ".join(map(str, lines[row.external_id]))
            row.item = None
            row.error = (
                "validation_error",
                f"externalId: {row.external_id} is on rows {where}; "
                "which should win is not for the import to guess",
            )


class StateFile:
    """What a previous run sent and Rheo accepted: external id → hash of the item. Kept
    for one Rheo and key, so a test key's state never skips a live import."""

    def __init__(self, path: Path, base_url: str, api_key: str) -> None:
        self.path = path
        self.scope = {"baseUrl": base_url, "keyPrefix": api_key[:14]}
        self.rows: dict[str, str] = {}
        with contextlib.suppress(FileNotFoundError, ValueError):
            data = json.loads(path.read_text())
            if data.get("scope") == self.scope:
                self.rows = dict(data.get("rows", {}))

    def unchanged(self, row: Row) -> bool:
        return row.external_id is not None and self.rows.get(row.external_id) == row.digest

    def record(self, rows: Iterable[Row]) -> None:
        for row in rows:
            if row.external_id:
                self.rows[row.external_id] = row.digest
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps({"scope": self.scope, "rows": self.rows}))
        os.replace(partial, self.path)  # a crash mid-write leaves the previous state


class Reporter(Protocol):
    """What the import shows as it goes (the CLI draws progress bars)."""

    def phase(self, name: str, total: int) -> None: ...
    def advance(self, name: str, done: int, counts: dict[str, int]) -> None: ...
    def note(self, text: str) -> None: ...


@dataclass
class Outcome:
    rows: int = 0
    skipped: int = 0  # unchanged since the last run, per the state file
    counts: Counter[str] = field(default_factory=Counter)  # the import's outcomes
    would: Counter[str] = field(default_factory=Counter)  # the validation's outcomes
    active: int = 0
    published: int = 0
    waiting: int = 0  # still in progress when the wait ended
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return sum(self.counts[k] for k in ("created", "updated", "unchanged", "stale"))


def _batches(rows: Sequence[Row]) -> Iterator[list[Row]]:
    for start in range(0, len(rows), BATCH_LIMIT):
        yield list(rows[start : start + BATCH_LIMIT])


def _error(row: Row, outcome: str, code: str, message: str, fields: Any = None) -> dict[str, str]:
    return {
        "row": str(row.line),
        "externalId": row.external_id or "",
        "outcome": outcome,
        "code": code,
        "message": message,
        "fields": json.dumps(fields, ensure_ascii=False) if fields else "",
    }


def _batch_error(row: Row, result: BatchItemResult) -> dict[str, str]:
    error = result.error
    return _error(
        row,
        result.outcome,
        error.code if error else "",
        error.message if error else "",
        error.fields if error else None,
    )


def run_import(
    rheo: Rheo,
    rows: list[Row],
    state: StateFile,
    reporter: Reporter,
    *,
    validate_only: bool = False,
    wait_seconds: float = 600,
    poll_seconds: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    outcome = Outcome(rows=len(rows))
    sendable: list[Row] = []
    for row in rows:
        if row.error:
            outcome.counts["invalid"] += 1
            outcome.errors.append(_error(row, "invalid", *row.error))
        elif state.unchanged(row):
            outcome.skipped += 1
        else:
            sendable.append(row)
    if outcome.skipped:
        reporter.note(f"{outcome.skipped} rows unchanged since the last import: skipped")

    # 1. Validate everything first: nothing is written.
    valid: list[Row] = []
    reporter.phase("validate", len(sendable))
    done = 0
    for batch in _batches(sendable):
        result = rheo.batch_upsert([r.item for r in batch if r.item], validate_only=True)
        for row, entry in zip(batch, result.results, strict=True):
            outcome.would[entry.outcome] += 1
            if entry.accepted:
                valid.append(row)
            else:
                outcome.counts[entry.outcome] += 1
                outcome.errors.append(_batch_error(row, entry))
        done += len(batch)
        reporter.advance("validate", done, dict(outcome.would))
    if validate_only:
        return outcome

    # 2. The import, batch by batch; the state is saved after each.
    reporter.phase("import", len(valid))
    follow: list[Row] = []
    done = 0
    for batch in _batches(valid):
        result = rheo.batch_upsert([r.item for r in batch if r.item])
        accepted = []
        for row, entry in zip(batch, result.results, strict=True):
            outcome.counts[entry.outcome] += 1
            if entry.accepted:
                accepted.append(row)
            else:
                outcome.errors.append(_batch_error(row, entry))
        state.record(accepted)
        follow.extend(accepted)
        done += len(batch)
        shown = {"accepted": outcome.accepted, "invalid": outcome.counts["invalid"]}
        shown["refused"] = outcome.counts["refused"]
        reporter.advance("import", done, shown)

    if wait_seconds > 0 and follow:
        _follow(rheo, follow, outcome, reporter, wait_seconds, poll_seconds, sleep, clock)
    return outcome


def _follow(
    rheo: Rheo,
    rows: list[Row],
    outcome: Outcome,
    reporter: Reporter,
    wait_seconds: float,
    poll_seconds: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> None:
    """Poll the accepted items (100 ids a request) until each is done: active or failed
    for good, and, for items sent with autoPublishTradera, published or failed."""
    by_id = {r.external_id: r for r in rows if r.external_id}
    to_publish = {i for i, r in by_id.items() if r.publishes}
    settling = set(by_id)  # not yet out of draft
    publishing = set(to_publish)
    reporter.phase("active", len(by_id))
    if to_publish:
        reporter.phase("published", len(to_publish))
    deadline = clock() + wait_seconds
    while True:
        ids = sorted(settling | publishing)
        for start in range(0, len(ids), BATCH_LIMIT):
            for item in rheo.list_items(external_ids=ids[start : start + BATCH_LIMIT]):
                _settle(item, by_id[item.external_id], settling, publishing, outcome)
        reporter.advance("active", len(by_id) - len(settling), {"active": outcome.active})
        if to_publish:
            done = len(to_publish) - len(publishing)
            reporter.advance("published", done, {"published": outcome.published})
        if not (settling or publishing) or clock() >= deadline:
            break
        sleep(poll_seconds)
    outcome.waiting = len(settling | publishing)


def _settle(
    item: Item, row: Row, settling: set[str], publishing: set[str], outcome: Outcome
) -> None:
    key = item.external_id
    if key in settling:
        sent = len((row.item or {}).get("imageUrls") or [])
        image_issues = [i for i in item.issues if (i.field or "").startswith("imageUrls")]
        if item.rheo_status != "draft":
            settling.discard(key)
            outcome.active += item.rheo_status == "active"
        elif sent and len(image_issues) >= sent:
            settling.discard(key)
            publishing.discard(key)
            fields = {i.field or "": [i.message] for i in image_issues}
            outcome.errors.append(
                _error(row, "image_failed", image_issues[0].code, "no image could be used", fields)
            )
    if key in publishing and key not in settling:
        if item.tradera_status in PUBLISHED:
            publishing.discard(key)
            outcome.published += 1
        elif item.tradera_status == "sync_error" or item.rheo_status != "active":
            publishing.discard(key)
            issue = next(iter(item.issues), None)
            outcome.errors.append(
                _error(
                    row,
                    "publish_failed",
                    issue.code if issue else "sync_error",
                    issue.message if issue else f"traderaStatus {item.tradera_status}",
                )
            )


ERROR_COLUMNS = ["row", "externalId", "outcome", "code", "message", "fields"]


def write_errors(path: Path, errors: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, ERROR_COLUMNS)
        writer.writeheader()
        writer.writerows(sorted(errors, key=lambda e: int(e["row"])))
