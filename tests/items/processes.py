"""Rheo's background processes as the Procfile runs them (Celery worker and beat, the job
dispatcher), started for real on the test's database, and a way to wait on what they do."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


class Processes:
    """Each process in its own process group, its output in `folder`; all killed at the end."""

    def __init__(self, broker_url: str, folder: Path):
        self.folder = folder
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "rheo.settings_test",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
            "CELERY_BROKER_URL": broker_url,
            "RHEO_VAR_DIR": str(folder),
            "RHEO_SWEEP_SECONDS": "0.5",
            "RHEO_NUDGE_GRACE_SECONDS": "1",
            "RHEO_ITEM_LEASE_SECONDS": "3",
        }
        self.running: list[subprocess.Popen] = []

    def start(self, name: str, command: list[str], **env: str) -> subprocess.Popen:
        with open(self.log_path(name), "ab") as log:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**self.env, **env},
                start_new_session=True,  # its own process group: killed whole, children too
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self.running.append(process)
        return process

    def log_path(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def log(self, name: str) -> str:
        return self.log_path(name).read_text()

    def celery(self, name: str, *args: str) -> subprocess.Popen:
        return self.start(name, [sys.executable, "-m", "celery", "-A", "rheo", *args])

    def worker(self, name: str) -> subprocess.Popen:
        return self.celery(
            name, "worker", "-n", f"{name}@%h", "-Q", "images,default", "-c", "1", "-l", "WARNING"
        )

    def beat(self) -> subprocess.Popen:
        return self.celery(
            "beat", "beat", "-s", str(self.folder / "beat-schedule"), "-l", "WARNING"
        )

    def dispatcher(self, name: str = "dispatcher", **env: str) -> subprocess.Popen:
        """manage.py dispatch_jobs; returns once it listens (it logs so at INFO)."""
        process = self.start(
            name, [sys.executable, "manage.py", "dispatch_jobs"], LOG_LEVEL="INFO", **env
        )
        assert wait_for(lambda: "listening" in self.log(name) or process.poll() is not None)
        assert process.poll() is None, self.log(name)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                self.kill(process)


def wait_for(predicate, timeout=40.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
