"""python -m tradera.sandbox [--port 8001] [--db var/tradera-sandbox.sqlite3] [--speed 1440]

Every option can also come from the environment (TRADERA_SANDBOX_*), as under make run.
The login page's default way back (--accept-url, TRADERA_SANDBOX_ACCEPT_URL) is
RHEO_PUBLIC_URL + /dashboard/integration/tradera/accept; Rheo's test mode passes its own.
"""

import argparse
import contextlib
import os

from tradera.sandbox.rules import Rules
from tradera.sandbox.server import ACCEPT_PATH, Config, SandboxServer


def _env(name: str, default):
    return type(default)(os.environ.get(f"TRADERA_SANDBOX_{name}", default))


def default_accept_url(environ=os.environ) -> str:
    """Where the login page sends a seller back when Rheo passed no redirect: Rheo's
    accept URL at RHEO_PUBLIC_URL (the same machine's Rheo, under make run)."""
    rheo = environ.get("RHEO_PUBLIC_URL", "").rstrip("/")
    return rheo + ACCEPT_PATH if rheo else Config().accept_url


def main() -> None:
    defaults = Config()
    parser = argparse.ArgumentParser(prog="python -m tradera.sandbox", description=__doc__)
    parser.add_argument("--host", default=_env("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=_env("PORT", 8001))
    parser.add_argument("--db", default=_env("DB", "var/tradera-sandbox.sqlite3"))
    parser.add_argument(
        "--speed", type=float, default=_env("SPEED", 1440.0), help="auction days per real day"
    )
    parser.add_argument(
        "--processing-seconds",
        type=float,
        default=_env("PROCESSING_SECONDS", 2.0),
        help="from AddItemCommit until GetRequestResults says Ok",
    )
    parser.add_argument("--quota", type=int, default=_env("QUOTA", defaults.quota))
    parser.add_argument("--app-id", type=int, default=_env("APP_ID", defaults.app_id))
    parser.add_argument("--app-key", default=_env("APP_KEY", defaults.app_key))
    parser.add_argument("--public-key", default=_env("PUBLIC_KEY", defaults.public_key))
    parser.add_argument("--accept-url", default=_env("ACCEPT_URL", default_accept_url()))
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    os.makedirs(os.path.dirname(os.path.abspath(args.db)), exist_ok=True)
    config = Config(
        app_id=args.app_id,
        app_key=args.app_key,
        public_key=args.public_key,
        quota=args.quota,
        accept_url=args.accept_url,
    )
    rules = Rules(speed=args.speed, processing_seconds=args.processing_seconds)
    server = SandboxServer(
        args.db, host=args.host, port=args.port, config=config, rules=rules, verbose=args.verbose
    )
    print(
        f"Tradera sandbox on {server.url} (SOAP at {server.api_url}, state in {args.db})",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
