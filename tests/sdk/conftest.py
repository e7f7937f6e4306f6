"""The SDK's tests against a live Rheo: `running_system` is `make run` on free ports, as
tests/system uses it (tests/system/conftest.py)."""

import subprocess
from pathlib import Path

import pytest
import requests

from tests.system.conftest import RunningSystem, newcomer_env, running_system  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
RHEO_CLI = ROOT / ".venv" / "bin" / "rheo"


def cli_env(system: RunningSystem) -> dict[str, str]:
    """A partner's shell: nothing of Rheo's configuration, the README's two variables."""
    return newcomer_env(RHEO=system.base_url, RHEO_KEY=system.key)


def rheo_cli(system: RunningSystem, *args: str, cwd: Path = ROOT, timeout: float = 600):
    return subprocess.run(
        [str(RHEO_CLI), *args], cwd=cwd, env=cli_env(system), capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def has_events_feed(system: RunningSystem) -> bool:
    answer = requests.get(
        f"{system.base_url}/integration/v1/events", headers={"x-api-key": system.key}, timeout=10
    )
    return answer.status_code != 404


def skip_without_events_feed(system: RunningSystem) -> None:
    # The events feed (GET /integration/v1/events) is issue 16's first half, built beside
    # the SDK; until it is merged these tests skip. Remove this once it has landed.
    if not has_events_feed(system):
        pytest.skip("GET /integration/v1/events answers 404: the events feed is not merged yet")
