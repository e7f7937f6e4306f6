"""The `.env` file: where it is, and how `make run` and the demo command write to it.

The settings read it with django-environ (`Env.read_env`); the real environment wins over
every line. Plain Python, no Django: the settings import it before Django is set up.
"""

import os
import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def path() -> Path:
    """`.env` at the checkout's root, or the file RHEO_ENV_FILE names."""
    return Path(os.environ.get("RHEO_ENV_FILE") or BASE_DIR / ".env")


def set_values(env_file: Path, values: dict[str, str], comment: str = "") -> None:
    """Replace the `NAME=` line of each of `values` in the file, or append it (after
    `comment`, when given). Every other line is kept as it is."""
    try:
        lines = env_file.read_text().splitlines()
    except FileNotFoundError:
        lines = []
    missing = dict(values)
    for index, line in enumerate(lines):
        match = re.match(r"\s*(?:export\s+)?(\w+)\s*=", line)
        if match and match.group(1) in missing:
            name = match.group(1)
            lines[index] = f"{name}={missing.pop(name)}"
    if missing:
        if comment:
            lines.append(f"# {comment}")
        lines.extend(f"{name}={value}" for name, value in missing.items())
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.write_text("\n".join(lines) + "\n")
