"""The SDK's tests against a live Rheo: `running_system` is `make run` on free ports, as
tests/system uses it (tests/system/conftest.py)."""

import subprocess
from pathlib import Path

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
