"""`make run` as a newcomer runs it, for the system tests.

`running_system` (session-scoped): one copy started with the real `make run` on free
ports, its .env (RHEO_ENV_FILE) and var/ (RHEO_VAR_DIR) in a temporary folder, on SQLite
and the embedded broker, whatever the shell running the tests has configured. It yields
once the copy answers /readyz and has printed its Quick Start export line, and is killed
whole at the end of the session (every process it started: checked).

`start_system(folder, ...)` starts another copy (a context manager), for tests that need
two at once or a second start of the same copy.
"""

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
START_SECONDS = 120
STOP_SECONDS = 15

# What the shell running the tests may have set (and rheo.settings_test sets) that would
# configure the copy: a newcomer's shell has none of it.
CONFIGURING = {
    "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "DEBUG",
    "SECRET_KEY", "PORT", "HOST", "ALLOWED_HOSTS", "MAKEFLAGS", "MAKELEVEL", "MFLAGS",
}  # fmt: skip
CONFIGURING_PREFIXES = ("RHEO_", "TRADERA_", "JWT_", "CELERY_")


def newcomer_env(**variables: str) -> dict[str, str]:
    """This process's environment without anything that configures Rheo, plus `variables`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in CONFIGURING and not name.startswith(CONFIGURING_PREFIXES)
    }
    return {**env, **variables}


_handed_out: set[int] = set()


def free_port_pair() -> int:
    """A port P with P+1 free too, on 127.0.0.1 (where make run binds), and neither handed
    to a copy that may not have bound it yet."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        pair = {port, port + 1}
        if port < 65535 and not pair & _handed_out and all(_can_bind(p) for p in pair):
            _handed_out.update(pair)
            return port
    raise RuntimeError("no two consecutive free ports")


def _can_bind(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def parse_exports(line: str) -> dict[str, str]:
    """`export A=1 B=2` as the shell reads it."""
    words = shlex.split(line.strip())
    assert words[0] == "export", line
    return dict(word.split("=", 1) for word in words[1:])


class Output:
    """A process's merged stdout and stderr, read as it comes (so the pipe never fills)."""

    def __init__(self, process: subprocess.Popen):
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._reader.start()

    def _read(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def matching(self, pattern: str) -> list[str]:
        return [line for line in list(self.lines) if re.search(pattern, line)]

    def finished(self, timeout: float) -> None:
        self._reader.join(timeout)


@dataclass
class RunningSystem:
    """One copy under `make run`. `exports` is its printed `export …` line as the shell
    reads it (RHEO, RHEO_KEY, RHEO_EMAIL, RHEO_PASSWORD)."""

    folder: Path
    port: int
    sandbox_port: int
    process: subprocess.Popen
    output: Output
    exports: dict[str, str] = field(default_factory=dict)

    @property
    def env_file(self) -> Path:
        return self.folder / ".env"

    @property
    def var_dir(self) -> Path:
        return self.folder / "var"

    @property
    def base_url(self) -> str:
        return self.exports["RHEO"]

    @property
    def sandbox_url(self) -> str:
        return f"http://localhost:{self.sandbox_port}"

    @property
    def key(self) -> str:
        return self.exports["RHEO_KEY"]

    @property
    def email(self) -> str:
        return self.exports["RHEO_EMAIL"]

    @property
    def password(self) -> str:
        return self.exports["RHEO_PASSWORD"]

    @property
    def shell_env(self) -> dict[str, str]:
        """The environment of a newcomer's second shell at the checkout's root: nothing
        configured but what the copy's own .env says, plus the pasted export line. Run the
        README's commands in it (`cwd=ROOT`), e.g. `.venv/bin/python manage.py …`."""
        return newcomer_env(
            RHEO_ENV_FILE=str(self.env_file), RHEO_VAR_DIR=str(self.var_dir), **self.exports
        )

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        """`.venv/bin/python manage.py ARGS` as the README writes it, in `shell_env`."""
        return subprocess.run(
            [str(PYTHON), "manage.py", *args],
            cwd=ROOT, env=self.shell_env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip


def launch(folder: Path, port: int, **variables: str) -> tuple[subprocess.Popen, Output]:
    """`make run` in its own process group, the copy's .env and var/ in `folder`."""
    env = newcomer_env(
        PORT=str(port),
        RHEO_ENV_FILE=str(folder / ".env"),
        RHEO_VAR_DIR=str(folder / "var"),
        **variables,
    )
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"],  # noqa: S607 - as a newcomer types it
        cwd=ROOT, env=env, start_new_session=True, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    return process, Output(process)


def wait_until_up(system: RunningSystem) -> None:
    """Until the copy printed its export line (make run prints it once /readyz answers)."""
    deadline = time.monotonic() + START_SECONDS
    while not (found := system.output.matching(r"^\s*export RHEO=")):
        if system.process.poll() is not None:
            system.output.finished(5)
            code = system.process.returncode
            raise AssertionError(f"make run ended ({code}):\n{system.output.text}")
        if time.monotonic() > deadline:
            raise AssertionError(f"make run not up in {START_SECONDS} s:\n{system.output.text}")
        time.sleep(0.1)
    system.exports = parse_exports(found[-1])


@contextlib.contextmanager
def start_system(folder: Path, port: int | None = None) -> Iterator[RunningSystem]:
    """A copy under `make run`, up; stopped (every process of it) on leaving."""
    port = port or free_port_pair()
    folder.mkdir(parents=True, exist_ok=True)
    process, output = launch(folder, port)
    system = RunningSystem(folder, port, port + 1, process, output)
    try:
        wait_until_up(system)
        yield system
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Kill `make run` and everything it started: honcho starts each process in a session
    of its own, so every process group in the tree is killed, then checked to be gone."""
    # make's own group has its pid (start_new_session), even once make is gone.
    groups = {process.pid} | {_pgid(pid) for pid in descendants(process.pid)}
    groups.discard(None)
    for group in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
    process.wait(STOP_SECONDS)
    deadline = time.monotonic() + STOP_SECONDS
    while left := _living_in(groups):
        assert time.monotonic() < deadline, f"make run left processes behind: {left}"
        time.sleep(0.05)


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rpartition(")")[2].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _living_in(groups: set[int | None]) -> list[int]:
    """Processes in `groups` that are not dead (zombies count as dead)."""
    living = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rpartition(")")[2].split()
            state, group = fields[0], int(fields[2])
            if group in groups and state != "Z":
                living.append(int(stat.parent.name))
    return living


@pytest.fixture(scope="session")
def running_system(tmp_path_factory) -> Iterator[RunningSystem]:
    if not Path("/proc").is_dir():
        pytest.skip("the system tests find make run's processes in /proc (Linux)")
    with start_system(tmp_path_factory.mktemp("make-run")) as system:
        assert requests.get(f"{system.base_url}/readyz", timeout=10).status_code == 200
        yield system
