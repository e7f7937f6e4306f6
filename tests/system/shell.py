"""A bash shell a test types into, as a user pastes commands into a terminal."""

import contextlib
import os
import queue
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid

DEADLINE_SECONDS = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Shell:
    """One `bash` process. `run` types a block and returns what it printed; background
    jobs (the README's receiver) keep printing into the same output, which `wait_for`
    searches. Leaving the `with` ends the shell and everything it started."""

    def __init__(self, cwd, env: dict[str, str]):
        """`env`: the whole environment of the shell, as a new terminal's."""
        self.process = subprocess.Popen(
            [shutil.which("bash") or "/bin/bash"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, so teardown reaches the jobs
        )
        self.lines: list[str] = []
        self._new_lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._new_lines.put(line.rstrip("\n"))

    def _next_line(self, deadline: float, waiting_for: str) -> str:
        try:
            line = self._new_lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(
                f"Waited {DEADLINE_SECONDS} s for {waiting_for!r}; the shell printed:\n"
                + "\n".join(self.lines)
            ) from None
        self.lines.append(line)
        return line

    def run(self, block: str) -> str:
        """Type `block`; what it printed once it is done (the receiver's lines left out)."""
        marker = f"__done_{uuid.uuid4().hex}__"
        assert self.process.stdin is not None
        self.process.stdin.write(f"{block}\nprintf '\\n%s\\n' {marker}\n")
        self.process.stdin.flush()
        printed = []
        deadline = time.monotonic() + DEADLINE_SECONDS
        while (line := self._next_line(deadline, marker)) != marker:
            if line and not line.startswith("receiver:"):
                printed.append(line)
        return "\n".join(printed)

    def wait_for(self, text: str) -> str:
        """The first line printed so far or from now on that contains `text`."""
        seen = next((line for line in self.lines if text in line), None)
        deadline = time.monotonic() + DEADLINE_SECONDS
        while seen is None:
            line = self._next_line(deadline, text)
            seen = line if text in line else None
        return seen[seen.index(text) :]

    def poll(self, answer, until):
        """`answer()` again, half a second apart, until `until(result)`; the result."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not until(result := answer()):
            assert time.monotonic() < deadline, f"Gave up after {DEADLINE_SECONDS} s: {result}"
            time.sleep(0.5)
        return result

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=10)
