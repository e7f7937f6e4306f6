"""What happens to calls before they reach the market: injected failures, the
application's call quota (a rolling window in real time, not the accelerated clock) and
the log of calls received that tests read."""

import sqlite3
import time

from tradera.sandbox.store import Transaction, connect, lock_for

SCHEMA = """
CREATE TABLE IF NOT EXISTS failures (
    id INTEGER PRIMARY KEY, operation TEXT NOT NULL, kind TEXT NOT NULL,
    remaining INTEGER NOT NULL, reason TEXT NOT NULL, seconds REAL NOT NULL);
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY, operation TEXT NOT NULL, at REAL NOT NULL, outcome TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS calls_at ON calls (at);
"""

DAY = 86_400


class Traffic:
    def __init__(self, path: str):
        self._lock = lock_for(path)
        self._db = connect(path, SCHEMA)

    def _tx(self):
        return Transaction(self._lock, self._db)

    def reset(self) -> None:
        with self._tx():
            self._db.execute("DELETE FROM failures")
            self._db.execute("DELETE FROM calls")

    def inject(self, operation: str, kind: str, count: int, reason: str, seconds: float) -> None:
        with self._tx():
            self._db.execute(
                "INSERT INTO failures (operation, kind, remaining, reason, seconds)"
                " VALUES (?, ?, ?, ?, ?)",
                (operation, kind, count, reason, seconds),
            )

    def take_failure(self, operation: str) -> sqlite3.Row | None:
        with self._tx():
            row = self._db.execute(
                "SELECT * FROM failures WHERE operation IN (?, '*') AND remaining > 0"
                " ORDER BY id LIMIT 1",
                (operation,),
            ).fetchone()
            if row is not None:
                self._db.execute(
                    "UPDATE failures SET remaining = remaining - 1 WHERE id = ?", (row["id"],)
                )
            return row

    def count_call(self, operation: str, quota: int, window: float) -> float | None:
        """Counts one call against the application's quota (a rolling window, real
        time); None when it may go, else the seconds until it may."""
        with self._tx():
            now = time.time()
            self._db.execute("DELETE FROM calls WHERE at <= ?", (now - max(window, DAY),))
            since = now - window
            (used,) = self._db.execute(
                "SELECT count(*) FROM calls WHERE at > ? AND outcome = 'counted'", (since,)
            ).fetchone()
            if used >= quota:
                self._log(operation, "quota")
                (oldest,) = self._db.execute(
                    "SELECT at FROM calls WHERE at > ? AND outcome = 'counted'"
                    " ORDER BY at LIMIT 1 OFFSET ?",
                    (since, used - quota),
                ).fetchone()
                return oldest + window - now
            self._log(operation, "counted")
            return None

    def log_injected(self, operation: str, kind: str) -> None:
        with self._tx():
            self._log(operation, kind)

    def _log(self, operation: str, outcome: str) -> None:
        self._db.execute(
            "INSERT INTO calls (operation, at, outcome) VALUES (?, ?, ?)",
            (operation, time.time(), outcome),
        )

    def call_counts(self) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT operation, count(*) AS n FROM calls GROUP BY operation ORDER BY operation"
        ).fetchall()
        return {row["operation"]: row["n"] for row in rows}
