"""`make run` (python -m rheo.run): the whole system on this machine, for development.

1. The first start writes .env with the development values (DEBUG, a new SECRET_KEY,
   RHEO_ALLOW_LOCAL_URLS, PORT). Only PORT is kept of the ports: the sandbox's port and
   the URLs derive from it in the settings, so `PORT=9100 make run` moves them all.
2. A port that is taken stops the start, in one line, before anything has started.
3. Migrate, then the Procfile's processes under honcho, with every port and URL passed
   on as set: honcho gives each process a PORT of its own (web PORT, worker PORT+100, …),
   so no process may derive anything from PORT itself.
4. Once the web answers /readyz and the sandbox answers, print how to log in and a test
   key (manage.py ensure_demo_partner).

`python -m rheo.run --demo` (make demo): steps 1 and 4 only, at any time.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from rheo import envfile

READY_SECONDS = 120

FIRST_START = """\
# Written by the first `make run`: development values for this machine (git ignores this
# file). The real environment overrides every line. The Tradera sandbox's port
# (PORT+1), RHEO_PUBLIC_URL, TRADERA_SANDBOX_URL and TRADERA_SANDBOX_ACCEPT_URL follow PORT
# unless set here or in the environment.
DEBUG=1
SECRET_KEY={secret_key}
RHEO_ALLOW_LOCAL_URLS=1
PORT={port}
"""


def main(argv: list[str]) -> int:
    env_file = envfile.path()
    if not env_file.exists():
        env_file.parent.mkdir(parents=True, exist_ok=True)
        env_file.write_text(
            FIRST_START.format(
                secret_key=secrets.token_urlsafe(50), port=os.environ.get("PORT", "8000")
            )
        )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rheo.settings")
    import django
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import CommandError, call_command
    from django.db import connections

    try:
        django.setup()
    except (ImproperlyConfigured, ValueError) as error:
        print(f"Rheo cannot start: {error} (check the environment and {env_file})", file=sys.stderr)
        return 1

    if "--demo" in argv:
        call_command("migrate", "--noinput", verbosity=0)
        call_command("ensure_demo_partner")
        return 0

    host = os.environ.get("HOST", "127.0.0.1")
    sandbox_host = os.environ.get("TRADERA_SANDBOX_HOST", "127.0.0.1")
    problem = port_problem(host, settings.PORT, sandbox_host, settings.TRADERA_SANDBOX_PORT)
    if problem:
        print(problem, file=sys.stderr)
        return 1

    call_command("migrate", "--noinput")
    connections.close_all()
    sys.stdout.flush()

    bin_dir = os.path.dirname(sys.executable)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOST": host,
        "PORT": str(settings.PORT),
        "TRADERA_SANDBOX_PORT": str(settings.TRADERA_SANDBOX_PORT),
        "TRADERA_SANDBOX_URL": settings.TRADERA_SANDBOX_URL,
        "TRADERA_SANDBOX_ACCEPT_URL": settings.TRADERA_SANDBOX_ACCEPT_URL,
        "RHEO_PUBLIC_URL": settings.RHEO_PUBLIC_URL,
    }
    # --env /dev/null: honcho would otherwise read .env itself and let it win over the
    # environment; the settings read it, the right way round.
    honcho = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "honcho", "--env", os.devnull, "start"],
        cwd=settings.BASE_DIR,
        env=env,
    )
    # Ctrl-C reaches honcho and every process (one process group); honcho stops them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: honcho.terminate())

    web = f"http://{reachable(host)}:{settings.PORT}/readyz"
    sandbox = f"http://{reachable(sandbox_host)}:{settings.TRADERA_SANDBOX_PORT}/"
    deadline = time.monotonic() + READY_SECONDS
    while honcho.poll() is None:
        if answers(web, ok_only=True) and answers(sandbox, ok_only=False):
            try:
                call_command("ensure_demo_partner")
            except CommandError as error:
                print(f"No demo login: {error}")
            connections.close_all()
            sys.stdout.flush()
            break
        if time.monotonic() > deadline:
            print(f"Rheo did not answer {web} within {READY_SECONDS} s; see the log above.")
            sys.stdout.flush()
            break
        time.sleep(0.2)
    return honcho.wait()


def port_problem(host: str, port: int, sandbox_host: str, sandbox_port: int) -> str:
    """One line saying which port cannot be used and what to change; "" when both can."""
    derived = "TRADERA_SANDBOX_PORT" not in os.environ
    sandbox_role = "Tradera sandbox, PORT+1" if derived else "Tradera sandbox, TRADERA_SANDBOX_PORT"
    if port == sandbox_port:
        return f"PORT and TRADERA_SANDBOX_PORT are both {port}: give TRADERA_SANDBOX_PORT another."
    for role, where, number in (
        ("Rheo, PORT", host, port),
        (sandbox_role, sandbox_host, sandbox_port),
    ):
        if can_bind(where, number):
            continue
        if not derived and number == sandbox_port:
            return f"Port {number} ({role}) is in use: set TRADERA_SANDBOX_PORT to a free port."
        free = suggestion(host, sandbox_host)
        return (
            f"Port {number} ({role}) is in use: start with another PORT, e.g. PORT={free} make run"
            + (", or set TRADERA_SANDBOX_PORT" if number == sandbox_port else "")
        )
    return ""


def can_bind(host: str, port: int) -> bool:
    # As gunicorn and the sandbox bind: SO_REUSEADDR, so only a listener makes a port busy.
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except (OSError, OverflowError):
        return False
    return True


def suggestion(host: str, sandbox_host: str) -> int:
    """A PORT whose web and sandbox ports are both free, for the message."""
    for port in range(9000, 9500, 100):
        if can_bind(host, port) and can_bind(sandbox_host, port + 1):
            return port
    return 9000


def reachable(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104


def answers(url: str, *, ok_only: bool) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own local URL
            return True
    except urllib.error.HTTPError:
        return not ok_only
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
