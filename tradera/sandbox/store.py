"""The sandbox's SQLite file: connections and transactions shared by its parts."""

import sqlite3
import threading


def connect(path: str, schema: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(schema)
    return db


class Transaction:
    """One thread at a time, one SQLite transaction; nests (the inner one joins)."""

    def __init__(self, lock: threading.RLock, db: sqlite3.Connection):
        self.lock, self.db = lock, db

    def __enter__(self):
        self.lock.acquire()
        self.outer = not self.db.in_transaction
        if self.outer:
            self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *rest):
        try:
            if self.outer:
                self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.lock.release()
