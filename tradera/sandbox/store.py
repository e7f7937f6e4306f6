"""The sandbox's SQLite file: connections and transactions shared by its parts.

Its parts (the market, the traffic) each have a connection to the one file and share one
lock for it, so their transactions never wait on each other inside SQLite."""

import sqlite3
import threading

_locks: dict[str, threading.RLock] = {}
_locks_lock = threading.Lock()


def lock_for(path: str) -> threading.RLock:
    """The lock of every transaction on the file at `path`."""
    with _locks_lock:
        return _locks.setdefault(path, threading.RLock())


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
        try:
            self.outer = not self.db.in_transaction
            if self.outer:
                self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()  # or every later transaction would wait for ever
            raise

    def __exit__(self, exc_type, *rest):
        try:
            if self.outer:
                self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.lock.release()
