"""The sandbox's Tradera: sellers, queued requests, auctions, bids and orders in one
SQLite file, with the rules API-NOTES.md states. Standard library only; no Django.

Time is real time plus an offset that tests move on (`advance`); auctions run faster than
real ones: an auction day lasts 86,400 / `speed` seconds.
"""

import json
import secrets
import sqlite3
import time

from tradera.sandbox.rules import Refused, Rules, check_item, check_prices
from tradera.sandbox.store import Transaction, connect, lock_for

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sellers (
    id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, token TEXT NOT NULL,
    expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS logins (secret_key TEXT PRIMARY KEY, seller_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY, request_id INTEGER UNIQUE NOT NULL, seller_id INTEGER NOT NULL,
    title TEXT NOT NULL, description TEXT NOT NULL, category_id INTEGER NOT NULL,
    duration_days INTEGER NOT NULL, item_type INTEGER NOT NULL,
    start_price INTEGER NOT NULL, reserve_price INTEGER, buy_now_price INTEGER,
    own_references TEXT NOT NULL, shipping TEXT NOT NULL, images INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL, committed_at REAL, start_at REAL, end_at REAL);
CREATE INDEX IF NOT EXISTS items_by_state ON items (state, end_at);
CREATE INDEX IF NOT EXISTS items_by_seller ON items (seller_id, end_at);
CREATE TABLE IF NOT EXISTS bids (
    id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL, bidder TEXT NOT NULL,
    amount INTEGER NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL, seller_id INTEGER NOT NULL,
    buyer TEXT NOT NULL, price INTEGER NOT NULL, shipping_cost INTEGER NOT NULL,
    created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL, format TEXT NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS images_by_item ON images (item_id, id);
CREATE INDEX IF NOT EXISTS bids_by_item ON bids (item_id);
CREATE INDEX IF NOT EXISTS orders_by_item ON orders (item_id);
CREATE INDEX IF NOT EXISTS orders_by_seller ON orders (seller_id, created_at);
"""

DAY = 86_400
FIRST_IDS = {"item": 700_000_000, "request": 5_000, "order": 90_000_000}


class Market:
    def __init__(self, path: str, rules: Rules | None = None):
        self.rules = rules or Rules()
        self._lock = lock_for(path)
        self._db = connect(path, SCHEMA)

    # --- time, ids, transactions -----------------------------------------------------

    def now(self) -> float:
        return time.time() + self._meta("clock_offset")

    def advance(self, seconds: float) -> None:
        with self._tx():
            self._set_meta("clock_offset", self._meta("clock_offset") + seconds)

    def auction_seconds(self, days: float) -> float:
        return days * DAY / self.rules.speed

    def reset(self) -> None:
        with self._tx():
            for table in ("meta", "sellers", "logins", "items", "images", "bids", "orders"):
                self._db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names

    def _tx(self):
        return Transaction(self._lock, self._db)

    def exclusive(self):
        """One request at a time: the server's threads share one SQLite connection, and a
        read must not see another thread's half-done transaction."""
        return self._lock

    def _meta(self, key: str, default: float = 0.0) -> float:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else default

    def _set_meta(self, key: str, value: float) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _next(self, counter: str) -> int:
        value = int(self._meta(f"next_{counter}", FIRST_IDS.get(counter, 1))) + 1
        self._set_meta(f"next_{counter}", value)
        return value

    # --- sellers and tokens ----------------------------------------------------------

    def seller(self, name: str) -> sqlite3.Row:
        """The seller of that name, created (with a fresh token) on first use."""
        with self._tx():
            row = self._db.execute("SELECT * FROM sellers WHERE name = ?", (name,)).fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO sellers (id, name, token, expires_at) VALUES (?, ?, ?, ?)",
                    (
                        self._next("seller"),
                        name,
                        secrets.token_urlsafe(24),
                        self.now() + self.rules.token_days * DAY,
                    ),
                )
                row = self._db.execute("SELECT * FROM sellers WHERE name = ?", (name,)).fetchone()
            return row

    def expire_token(self, seller_id: int) -> None:
        with self._tx():
            self._db.execute(
                "UPDATE sellers SET expires_at = ? WHERE id = ?", (self.now() - 1, seller_id)
            )

    def authorized(self, user_id: int | None, token: str | None) -> bool:
        row = self._db.execute(
            "SELECT token, expires_at FROM sellers WHERE id = ?", (user_id,)
        ).fetchone()
        return (
            bool(row and token and secrets.compare_digest(row["token"], token))
            and row["expires_at"] > self.now()
        )

    def consent(self, secret_key: str, name: str) -> sqlite3.Row:
        """tokenlogin.aspx: the user logged in as `name` and accepted."""
        seller = self.seller(name)
        with self._tx():
            self._db.execute(
                "INSERT OR REPLACE INTO logins (secret_key, seller_id) VALUES (?, ?)",
                (secret_key, seller["id"]),
            )
        return seller

    def fetch_token(self, user_id: int, secret_key: str) -> sqlite3.Row:
        row = self._db.execute(
            "SELECT sellers.* FROM logins JOIN sellers ON sellers.id = logins.seller_id "
            "WHERE logins.secret_key = ? AND sellers.id = ?",
            (secret_key, user_id),
        ).fetchone()
        if row is None:
            raise Refused("No token for this user and secret key.")
        return row

    # --- the queued publish flow -----------------------------------------------------

    def add_item(self, seller_id: int, item: dict) -> tuple[int, int]:
        check_item(item)
        with self._tx():
            request_id, item_id = self._next("request"), self._next("item")
            self._db.execute(
                "INSERT INTO items (id, request_id, seller_id, title, description, category_id,"
                " duration_days, item_type, start_price, reserve_price, buy_now_price,"
                " own_references, shipping, state) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    item_id,
                    request_id,
                    seller_id,
                    item["title"],
                    item["description"],
                    item["category_id"],
                    item["duration"],
                    item["item_type"],
                    item["start_price"],
                    item["reserve_price"],
                    item["buy_now_price"],
                    json.dumps(item["own_references"]),
                    json.dumps(item["shipping"]),
                    "uncommitted",
                ),
            )
            return request_id, item_id

    def add_image(self, seller_id: int, request_id: int, data: bytes, image_format: str) -> None:
        """Kept, so the auction's page can show it (`image_format`: Gif, Jpeg or Png)."""
        if len(data) > 4 * 1024 * 1024:
            raise Refused("The image is larger than 4 MB.")
        with self._tx():
            item = self._request(seller_id, request_id)
            if item["state"] != "uncommitted":
                raise Refused(f"Request {request_id} is already committed.")
            self._db.execute("UPDATE items SET images = images + 1 WHERE id = ?", (item["id"],))
            self._db.execute(
                "INSERT INTO images (item_id, format, data) VALUES (?, ?, ?)",
                (item["id"], image_format, data),
            )

    def commit(self, seller_id: int, request_id: int) -> None:
        with self._tx():
            item = self._request(seller_id, request_id)
            if item["state"] == "uncommitted":
                self._db.execute(
                    "UPDATE items SET state = 'queued', committed_at = ? WHERE id = ?",
                    (self.now(), item["id"]),
                )

    def request_results(self, seller_id: int, request_ids: list[int]) -> list[tuple[int, str]]:
        """(request id, ResultCode) of the processed ones; pending ones are absent."""
        self.settle()
        marks = ",".join("?" * len(request_ids)) or "NULL"
        rows = self._db.execute(
            f"SELECT request_id FROM items WHERE seller_id = ? AND request_id IN ({marks})"  # noqa: S608
            " AND state IN ('active', 'ended') ORDER BY request_id",
            (seller_id, *request_ids),
        ).fetchall()
        return [(row["request_id"], "Ok") for row in rows]

    def _request(self, seller_id: int, request_id: int) -> sqlite3.Row:
        item = self._db.execute(
            "SELECT * FROM items WHERE request_id = ? AND seller_id = ?", (request_id, seller_id)
        ).fetchone()
        if item is None:
            raise Refused(f"Request {request_id} does not exist.")
        return item

    def seed(
        self,
        seller_id: int,
        count: int,
        *,
        title: str,
        start_price: int,
        duration_days: int,
        category_id: int,
    ) -> list[int]:
        """`count` running auctions of the seller at once, as if each had been published
        (no images): for benchmarks and scripts that need many. Returns their item ids."""
        if not 1 <= count <= 1_000_000:
            raise ValueError("count is from 1 to 1,000,000.")
        check_prices(start_price, None, None)
        if not 1 <= duration_days <= 14:
            raise Refused("Duration must be between 1 and 14 days.")
        with self._tx():
            if not self._db.execute("SELECT 1 FROM sellers WHERE id = ?", (seller_id,)).fetchone():
                raise Refused(f"Seller {seller_id} does not exist.")
            first_item, first_request = self._take("item", count), self._take("request", count)
            now = self.now()
            end = now + self.auction_seconds(duration_days)
            self._db.executemany(
                "INSERT INTO items (id, request_id, seller_id, title, description, category_id,"
                " duration_days, item_type, start_price, own_references, shipping, state,"
                " committed_at, start_at, end_at)"
                " VALUES (?, ?, ?, ?, '', ?, ?, 1, ?, '[]', '[]', 'active', ?, ?, ?)",
                (
                    (
                        first_item + n,
                        first_request + n,
                        seller_id,
                        f"{title} {n + 1}"[:80],
                        category_id,
                        duration_days,
                        start_price,
                        now,
                        now,
                        end,
                    )
                    for n in range(count)
                ),
            )
        return list(range(first_item, first_item + count))

    def _take(self, counter: str, count: int) -> int:
        """The first of `count` consecutive new ids."""
        first = self._next(counter)
        self._set_meta(f"next_{counter}", first + count - 1)
        return first

    # --- the clock: processing queued requests, ending auctions ------------------------

    def settle(self) -> None:
        """Brings the market up to now: processes committed requests, ends auctions."""
        with self._tx():
            now = self.now()
            ready = now - self.rules.processing_seconds
            for item in self._db.execute(
                "SELECT * FROM items WHERE state = 'queued' AND committed_at <= ?", (ready,)
            ).fetchall():
                start = item["committed_at"] + self.rules.processing_seconds
                end = start + self.auction_seconds(item["duration_days"])
                self._db.execute(
                    "UPDATE items SET state = 'active', start_at = ?, end_at = ? WHERE id = ?",
                    (start, end, item["id"]),
                )
            for item in self._db.execute(
                "SELECT * FROM items WHERE state = 'active' AND end_at <= ?", (now,)
            ).fetchall():
                self._close(item, item["end_at"])

    def _close(self, item: sqlite3.Row, at: float) -> None:
        """The auction ends at `at`: sold to the highest bid if it reaches the reserve."""
        best = self._best_bid(item["id"])
        reserve = item["reserve_price"] or 0
        self._db.execute(
            "UPDATE items SET state = 'ended', end_at = ? WHERE id = ?", (at, item["id"])
        )
        if best is not None and best["amount"] >= reserve:
            self._order(item, best["bidder"], best["amount"], at)

    def _order(self, item: sqlite3.Row, buyer: str, price: int, at: float) -> None:
        """The sale's order. Tradera may make it a while after the auction ends
        (`order_seconds`): until then GetSellerOrders does not list it, though the ended
        auction says it has a winner."""
        shipping = json.loads(item["shipping"])
        made = at + self.rules.order_seconds
        self._db.execute(
            "INSERT INTO orders (id, item_id, seller_id, buyer, price, shipping_cost,"
            " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)",
            (
                self._next("order"),
                item["id"],
                item["seller_id"],
                buyer,
                price,
                shipping[0]["cost"] if shipping else 0,
                made,
                made,
            ),
        )

    def _best_bid(self, item_id: int) -> sqlite3.Row | None:
        return self._db.execute(
            "SELECT * FROM bids WHERE item_id = ? ORDER BY amount DESC, id LIMIT 1", (item_id,)
        ).fetchone()

    # --- a running auction -------------------------------------------------------------

    def live_item(self, item_id: int) -> sqlite3.Row:
        self.settle()
        item = self.item(item_id)
        if item is None or item["state"] != "active":
            raise Refused(f"Item {item_id} is not a running auction.")
        return item

    def item(self, item_id: int) -> sqlite3.Row | None:
        return self._db.execute(
            "SELECT * FROM items WHERE id = ? AND state IN ('active', 'ended')", (item_id,)
        ).fetchone()

    def bid_count(self, item_id: int) -> int:
        return self._db.execute(
            "SELECT count(*) FROM bids WHERE item_id = ?", (item_id,)
        ).fetchone()[0]

    def max_bid(self, item_id: int) -> int | None:
        best = self._best_bid(item_id)
        return best["amount"] if best else None

    def end_item(self, seller_id: int, item_id: int) -> bool:
        """EndItem: ends at once only without bids. Tradera answers true for an unknown
        id, and so does the sandbox."""
        self.settle()
        with self._tx():
            row = self._db.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                return True
            if row["seller_id"] != seller_id or row["state"] != "active":
                return row["state"] == "ended" and row["seller_id"] == seller_id
            if self.bid_count(item_id):
                return False
            self._close(row, self.now())
            return True

    def set_prices(self, seller_id: int, item_id: int, start, reserve, buy_now) -> list[str]:
        self.settle()
        with self._tx():
            row = self._db.execute(
                "SELECT * FROM items WHERE id = ? AND seller_id = ?", (item_id, seller_id)
            ).fetchone()
            if row is None or row["state"] != "active":
                return [f"Item {item_id} is not a running auction of this seller."]
            if self.bid_count(item_id):
                return ["Prices cannot be changed on an item with bids."]
            if row["reserve_price"] and not reserve:
                return ["A reserve price cannot be removed."]
            try:
                check_prices(start, reserve, buy_now)
            except Refused as exc:
                return [str(exc)]
            self._db.execute(
                "UPDATE items SET start_price = ?, reserve_price = ?, buy_now_price = ?"
                " WHERE id = ?",
                (start, reserve, buy_now, item_id),
            )
            return []

    def bid(self, item_id: int, amount: int, bidder: str) -> None:
        with self._tx():
            item = self.live_item(item_id)
            best = self.max_bid(item_id)
            if amount < item["start_price"] or (best is not None and amount <= best):
                raise Refused(f"A bid must be at least {item['start_price']} and above {best}.")
            self._db.execute(
                "INSERT INTO bids (item_id, bidder, amount, at) VALUES (?, ?, ?, ?)",
                (item_id, bidder, amount, self.now()),
            )

    def buy_now(self, item_id: int, buyer: str) -> None:
        with self._tx():
            item = self.live_item(item_id)
            if not item["buy_now_price"] or self.bid_count(item_id):
                raise Refused(f"Item {item_id} cannot be bought now.")
            now = self.now()
            self._db.execute(
                "UPDATE items SET state = 'ended', end_at = ? WHERE id = ?", (now, item_id)
            )
            self._order(item, buyer, item["buy_now_price"], now)

    def end_now(self, item_id: int) -> None:
        """Time is up for this auction: it ends as at its end time (sold if it has a bid
        that reaches the reserve)."""
        with self._tx():
            self._close(self.live_item(item_id), self.now())

    # --- reading -------------------------------------------------------------------------

    def seller_items(
        self,
        seller_id: int,
        *,
        active: str,
        category_id: int,
        item_type: int | None,
        min_end: float,
        max_end: float,
        max_start: float,
    ) -> list[sqlite3.Row]:
        """GetSellerItems: the seller's auctions (live or ended) by end date, each with its
        bids and whether it was won (an order exists, made or still to come)."""
        self.settle()
        states = {
            "All": ("active", "ended"),
            "Active": ("active", "active"),
            "Inactive": ("ended", "ended"),
        }
        return self._db.execute(
            "SELECT items.*,"
            " (SELECT count(*) FROM bids WHERE bids.item_id = items.id) AS bids,"
            " (SELECT max(amount) FROM bids WHERE bids.item_id = items.id) AS max_bid,"
            " EXISTS (SELECT 1 FROM orders WHERE orders.item_id = items.id) AS won"
            " FROM items WHERE seller_id = ? AND state IN (?, ?)"
            " AND end_at >= ? AND end_at <= ? AND start_at <= ?"
            " AND (? = 0 OR category_id = ?) AND (? IS NULL OR item_type = ?)"
            " ORDER BY end_at, id",
            (
                seller_id,
                *states[active],
                min_end,
                max_end,
                max_start,
                category_id,
                category_id,
                item_type,
                item_type,
            ),
        ).fetchall()

    def orders(self, seller_id: int, start: float, end: float, by: str) -> list[sqlite3.Row]:
        self.settle()
        column = "updated_at" if by == "LastUpdatedDate" else "created_at"
        return self._db.execute(
            f"SELECT orders.*, items.title, items.own_references, items.item_type FROM orders"  # noqa: S608
            f" JOIN items ON items.id = orders.item_id WHERE orders.seller_id = ?"
            f" AND orders.{column} >= ? AND orders.{column} <= ?"
            " AND orders.created_at <= ? ORDER BY orders.id",
            (seller_id, start, end, self.now()),
        ).fetchall()

    def auctions(self) -> list[dict]:
        self.settle()
        rows = self._db.execute(
            "SELECT items.*, sellers.name AS seller FROM items"
            " JOIN sellers ON sellers.id = items.seller_id ORDER BY items.id DESC"
        ).fetchall()
        return [self.describe(row) for row in rows]

    def image(self, item_id: int, number: int) -> sqlite3.Row | None:
        """The auction's image `number` (from 1, in the order they were added)."""
        return self._db.execute(
            "SELECT format, data FROM images WHERE item_id = ? ORDER BY id LIMIT 1 OFFSET ?",
            (item_id, number - 1),
        ).fetchone()

    def describe(self, item: sqlite3.Row) -> dict:
        order = self._db.execute("SELECT * FROM orders WHERE item_id = ?", (item["id"],)).fetchone()
        return {
            "itemId": item["id"],
            "requestId": item["request_id"],
            "sellerId": item["seller_id"],
            "title": item["title"],
            "description": item["description"],
            "categoryId": item["category_id"],
            "state": item["state"],
            "startPrice": item["start_price"],
            "reservePrice": item["reserve_price"],
            "buyNowPrice": item["buy_now_price"],
            "ownReferences": json.loads(item["own_references"]),
            "images": item["images"],
            "bids": self.bid_count(item["id"]),
            "maxBid": self.max_bid(item["id"]),
            "endsAt": item["end_at"],
            "sold": order is not None,
            "orderId": order["id"] if order else None,
            "buyer": order["buyer"] if order else None,
        }
