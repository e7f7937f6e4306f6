"""Test settings: the real PostgreSQL and Redis when they answer, SQLite and local memory
otherwise. RHEO_REQUIRE_SERVICES=1 (CI) turns a missing service into a failure."""

import os
import socket

# The suite never reads a developer's .env (make run writes one): its settings are these.
os.environ["RHEO_ENV_FILE"] = os.devnull


def _answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True


if "DATABASE_URL" not in os.environ and _answers("127.0.0.1", 5432):
    os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/rheo"
if "REDIS_URL" not in os.environ and _answers("127.0.0.1", 6379):
    os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/1"

# Under pytest-xdist each worker gets a Redis database of its own (pytest-django already
# gives each its own test database): gw0 keeps the configured one, gwN takes 8+N.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
if os.environ.get("REDIS_URL") and _xdist_worker != "gw0":
    _redis_base = os.environ["REDIS_URL"].rsplit("/", 1)[0]
    os.environ["REDIS_URL"] = f"{_redis_base}/{8 + int(_xdist_worker.removeprefix('gw'))}"
os.environ.setdefault("SECRET_KEY", "test-secret-key-long-enough-for-hs256-signing")
os.environ.setdefault("RHEO_ALLOW_LOCAL_URLS", "1")
# Links in e-mails, whatever PORT the shell running the tests has.
os.environ.setdefault("RHEO_PUBLIC_URL", "http://localhost:8000")
os.environ.setdefault("RHEO_VAR_DIR", os.path.join(os.path.dirname(__file__), "..", "var", "test"))
# Tests publish to an in-memory broker; no message outlives the test process.
os.environ.setdefault("CELERY_BROKER_URL", "memory://")

from rheo.settings import *  # noqa: E402,F403
from rheo.settings import DATABASES, REDIS_URL  # noqa: E402

USING_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
USING_REDIS = bool(REDIS_URL)

if os.environ.get("RHEO_REQUIRE_SERVICES") == "1":
    missing = [n for n, up in (("PostgreSQL", USING_POSTGRES), ("Redis", USING_REDIS)) if not up]
    if missing:
        raise RuntimeError(f"RHEO_REQUIRE_SERVICES=1 but {' and '.join(missing)} not reachable.")

# Tests log in far more often than a person could; the login limit gets its own test.
RHEO_RATE_LIMITS = {**RHEO_RATE_LIMITS, "auth-token": "100000/60s"}  # noqa: F405
# And order far more often than one visitor may; the order limit gets its own test.
RHEO_RATE_LIMITS["market-order"] = "100000/60s"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Test server threads end with their request; persistent connections would outlive them.
DATABASES["default"]["CONN_MAX_AGE"] = 0
