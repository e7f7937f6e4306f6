"""`rheo`: the command line of the SDK (see clients/python/README.md).

    rheo import stock.csv --map externalId=Artikelnr,title=Benämning,price=Pris
    rheo items list --status active --json
    rheo items get ERP_PART_1
    rheo events tail
    rheo webhook listen --forward http://localhost:5000/hook

The key and Rheo's address come from --api-key / --base-url, else RHEO_API_KEY /
RHEO_BASE_URL, else the README's RHEO_KEY / RHEO.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from rheo_client import __version__
from rheo_client.client import Rheo
from rheo_client.errors import RheoError
from rheo_client.importer import (
    ImportError_,
    Outcome,
    StateFile,
    parse_assignments,
    read_rows,
    run_import,
    write_errors,
)
from rheo_client.models import Event
from rheo_client.webhooks import new_secret, payload_body, sign_webhook

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
        return code
    except RheoError as exc:
        err.print(f"[red]error[/red]: {exc.code}: {exc.message}", markup=True)
        for name, messages in (exc.fields or {}).items():
            err.print(f"  {name}: {' '.join(messages)}", markup=False)
        if exc.request_id:
            err.print(f"  requestId: {exc.request_id}", markup=False)
        return 1
    except (ValueError, ImportError_) as exc:
        err.print(f"error: {exc}", markup=False)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`rheo items list --json | head`): as the docs of `signal`
        # advise, point stdout at devnull so the interpreter's exit does not complain.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: given before or after the command, neither overwrites the other.
    common.add_argument("--api-key", default=argparse.SUPPRESS, help="default: $RHEO_API_KEY")
    common.add_argument("--base-url", default=argparse.SUPPRESS, help="default: $RHEO_BASE_URL")
    top = argparse.ArgumentParser(prog="rheo", parents=[common], description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    top.add_argument("--version", action="version", version=f"rheo-client {__version__}")
    commands = top.add_subparsers(required=True, metavar="COMMAND")

    imp = commands.add_parser("import", parents=[common], help="import a CSV file of items")
    imp.add_argument("csv", type=Path)
    imp.add_argument("--map", help="FIELD=COLUMN,… (a field left out is read from a column "
                                   "of its own name)")  # fmt: skip
    imp.add_argument("--set", help="FIELD=VALUE,… for every row (e.g. autoPublishTradera=true)")
    imp.add_argument("--validate-only", action="store_true", help="validate, write nothing")
    imp.add_argument("--state", type=Path, help="the resume file (default: CSV.rheo-state.json)")
    imp.add_argument("--errors", type=Path, help="the errors CSV (default: CSV.errors.csv)")
    imp.add_argument("--wait", type=float, default=600,
                     help="seconds to follow items to active/published (0: do not)")  # fmt: skip
    imp.set_defaults(run=cmd_import)

    items = commands.add_parser("items", help="your items").add_subparsers(required=True)
    lst = items.add_parser("list", parents=[common], help="list items (every page)")
    lst.add_argument("--status", help="rheoStatus: draft, active, sold, not_listed, archived")
    lst.add_argument("--tradera-status", help="pending_sync, active, sold, ended, sync_error, none")
    lst.add_argument("--q", help="part of the title, OEM code or external id")
    lst.add_argument("--updated-since", help="ISO-8601 date-time")
    lst.add_argument("--json", action="store_true", help="a JSON array of the items")
    lst.set_defaults(run=cmd_items_list)
    get = items.add_parser("get", parents=[common], help="one item, as JSON")
    get.add_argument("external_id")
    get.set_defaults(run=cmd_items_get)

    events = commands.add_parser("events", help="the events feed").add_subparsers(required=True)
    tail = events.add_parser("tail", parents=[common], help="follow the events feed live")
    _feed_arguments(tail)
    tail.add_argument("--json", action="store_true", help="each event as a JSON line")
    tail.set_defaults(run=cmd_events_tail)

    webhook = commands.add_parser("webhook", help="webhooks").add_subparsers(required=True)
    listen = webhook.add_parser(
        "listen", parents=[common], help="forward the feed's events, signed, to a local URL"
    )
    listen.add_argument("--forward", required=True, help="e.g. http://localhost:5000/hook")
    listen.add_argument("--secret", help="sign with this whsec_… (default: a new one, printed)")
    _feed_arguments(listen)
    listen.set_defaults(run=cmd_webhook_listen)
    return top


def _feed_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--type", help="only this eventType")
    command.add_argument("--external-id", help="only this item's events")
    start = command.add_mutually_exclusive_group()
    start.add_argument("--after", help="start after this eventId (default: from now on)")
    start.add_argument("--from-start", action="store_true", help="every retained event first")
    command.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    command.add_argument("--max-events", type=int, help="stop after this many events")


def client(args: argparse.Namespace) -> Rheo:
    return Rheo(getattr(args, "api_key", None), getattr(args, "base_url", None))


# -- import ----------------------------------------------------------------------------


class ProgressReporter:
    """rich progress bars: validate, import (accepted, invalid), active, published."""

    LABELS = {"validate": "Validating", "import": "Importing", "active": "Active",
              "published": "Published"}  # fmt: skip

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def phase(self, name: str, total: int) -> None:
        self.tasks[name] = self.progress.add_task(self.LABELS[name], total=total, counts="")

    def advance(self, name: str, done: int, counts: dict[str, int]) -> None:
        shown = "  ".join(f"{k} {v:,}" for k, v in counts.items())
        self.progress.update(self.tasks[name], completed=done, counts=shown)

    def note(self, text: str) -> None:
        self.progress.console.print(text, markup=False)


def cmd_import(args: argparse.Namespace) -> int:
    rheo = client(args)
    mapping = parse_assignments(args.map)
    constants = parse_assignments(args.set)
    rows, _ = read_rows(args.csv, mapping, constants)
    state = StateFile(args.state or _beside(args.csv, ".rheo-state.json"), rheo.base_url,
                      rheo.api_key)  # fmt: skip
    progress = Progress(
        TextColumn("{task.description:<11}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[counts]}"),
        console=err,
    )
    with progress:
        outcome = run_import(
            rheo, rows, state, ProgressReporter(progress),
            validate_only=args.validate_only, wait_seconds=args.wait,
        )  # fmt: skip
    errors_path = args.errors or _beside(args.csv, ".errors.csv")
    if outcome.errors:
        write_errors(errors_path, outcome.errors)
    _summary(outcome, args.validate_only, errors_path if outcome.errors else None)
    return 1 if outcome.errors else 0


def _beside(path: Path, suffix: str) -> Path:
    return path.with_name(path.stem + suffix)


def _summary(outcome: Outcome, validate_only: bool, errors_path: Path | None) -> None:
    table = Table(title="rheo import: would happen" if validate_only else "rheo import")
    table.add_column("rows")
    table.add_column("count", justify="right")
    lines: list[tuple[str, int]] = [("rows in the file", outcome.rows)]
    if outcome.skipped:
        lines.append(("skipped, unchanged since the last import", outcome.skipped))
    counts = outcome.would if validate_only else outcome.counts
    for name in ("created", "updated", "unchanged", "stale", "invalid", "refused"):
        if validate_only and name in ("invalid", "refused"):
            lines.append((name, outcome.counts[name]))
        elif counts[name]:
            lines.append((name, counts[name]))
    if not validate_only:
        lines += [("active", outcome.active), ("published", outcome.published)]
        if outcome.waiting:
            lines.append(("still in progress", outcome.waiting))
    for name, count in lines:
        table.add_row(name, f"{count:,}")
    out.print(table)
    if errors_path:
        rows = "row" if len(outcome.errors) == 1 else "rows"
        out.print(f"{len(outcome.errors):,} {rows} with errors: {errors_path}", markup=False)


# -- items -----------------------------------------------------------------------------


def cmd_items_list(args: argparse.Namespace) -> int:
    items = client(args).list_items(
        rheo_status=args.status, tradera_status=args.tradera_status, q=args.q,
        updated_since=args.updated_since,
    )  # fmt: skip
    if args.json:
        # Streamed as the pages come, one item a line, still one JSON array.
        sys.stdout.write("[")
        for n, item in enumerate(items):
            sys.stdout.write(("," if n else "") + "\n" + json.dumps(item.raw, ensure_ascii=False))
        sys.stdout.write("\n]\n")
        return 0
    table = Table("externalId", "rheoStatus", "traderaStatus", "price", "title")
    for item in items:
        table.add_row(item.external_id, item.rheo_status, item.tradera_status or "-",
                      f"{item.price}", item.title)  # fmt: skip
    out.print(table)
    return 0


def cmd_items_get(args: argparse.Namespace) -> int:
    item = client(args).get_item(args.external_id)
    print(json.dumps(item.raw, ensure_ascii=False, indent=2))
    return 0


# -- the events feed -------------------------------------------------------------------


def follow_feed(
    rheo: Rheo,
    args: argparse.Namespace,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Event]:
    """The feed's events as they come, forever (or `--max-events`): pages are read back to
    back while `hasMore`, then polled every `--interval` seconds."""
    after = args.after
    created_after = None if (args.after or args.from_start) else datetime.now(UTC)
    seen = 0
    while True:
        page = rheo.events_page(
            after=after, type=args.type, external_id=args.external_id,
            created_after=created_after,
        )  # fmt: skip
        for event in page.events:
            yield event
            seen += 1
            if args.max_events and seen >= args.max_events:
                return
        after = page.next_cursor or (page.events[-1].event_id if page.events else after)
        if not page.has_more:
            sleep(args.interval)


def _feed_missing(rheo: Rheo) -> bool:
    try:
        rheo.events_page(limit=1)
    except RheoError as exc:
        if exc.status == 404:
            err.print("error: this Rheo has no events feed (GET /integration/v1/events is 404)")
            return True
        raise
    return False


def cmd_events_tail(args: argparse.Namespace) -> int:
    rheo = client(args)
    if _feed_missing(rheo):
        return 1
    err.print(f"Following the events feed of {rheo.base_url} (Ctrl-C stops)", markup=False)
    for event in follow_feed(rheo, args):
        if args.json:
            print(json.dumps(event.raw, ensure_ascii=False), flush=True)
        else:
            when = f"{event.created_at:%Y-%m-%d %H:%M:%S}" if event.created_at else "-"
            print(f"{when}  {event.event_type:<16} {event.external_id or '-':<24} "
                  f"seq {event.sequence}  {event.event_id}", flush=True)  # fmt: skip
    return 0


def cmd_webhook_listen(args: argparse.Namespace) -> int:
    rheo = client(args)
    if _feed_missing(rheo):
        return 1
    secret = args.secret or new_secret()
    print(f"Ready. Forwarding events to {args.forward}; your webhook signing secret is {secret}",
          flush=True)  # fmt: skip
    session = requests.Session()
    for event in follow_feed(rheo, args):
        print(forward(session, event, args.forward, secret), flush=True)
    return 0


def forward(session: requests.Session, event: Event, url: str, secret: str) -> str:
    """POST the event's payload, signed with `secret` as Rheo signs; a line saying how it
    went. A failed forward is reported, not retried (the feed still has the event)."""
    body = payload_body(event.payload)
    headers: dict[str, Any] = {**sign_webhook(secret, event.event_id, body),
                               "User-Agent": f"rheo-cli/{__version__}"}  # fmt: skip
    try:
        answer = session.post(url, data=body.encode(), headers=headers, timeout=10,
                              allow_redirects=False)  # fmt: skip
        status = f"[{answer.status_code}]"
    except requests.RequestException as exc:
        status = f"[failed: {type(exc).__name__}]"
    return f"--> {event.event_type} {event.event_id} {event.external_id or ''} {status}"


if __name__ == "__main__":
    sys.exit(main())
