"""The docs against the code: every setting Rheo reads is documented, and every link
between the pages leads somewhere. (The README's Quick Start is run as written in
tests/system/test_quick_start.py.)"""

import re
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_CONFIGURATION = {"DJANGO_SETTINGS_MODULE", "PATH", "PYTEST_XDIST_WORKER"}


def variables_read() -> set[str]:
    """The environment variables the application, its processes and make run read."""
    names = set()
    for path in (ROOT / "rheo").glob("*.py"):
        text = path.read_text()
        names |= set(re.findall(r"""env\.\w+\(\s*["']([A-Z][A-Z0-9_]+)["']""", text))
        names |= set(re.findall(r"""os\.environ\.get\(\s*["']([A-Z][A-Z0-9_]+)["']""", text))
    names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", (ROOT / "Procfile").read_text()))
    sandbox = (ROOT / "tradera" / "sandbox" / "__main__.py").read_text()
    names |= {f"TRADERA_SANDBOX_{name}" for name in re.findall(r'_env\("([A-Z_]+)"', sandbox)}
    return names - NOT_CONFIGURATION


def test_every_environment_variable_rheo_reads_is_in_the_docs():
    documented = "\n".join(page.read_text() for page in PAGES)
    read = variables_read()
    assert {"DATABASE_URL", "PORT", "TRADERA_SANDBOX_ACCEPT_URL", "WORKER_CONCURRENCY"} <= read
    assert sorted(name for name in read if f"`{name}`" not in documented) == []


def test_the_documented_tradera_accept_url_is_the_dashboards():
    operations = (ROOT / "docs" / "operations.md").read_text()
    row = next(line for line in operations.splitlines() if "`TRADERA_SANDBOX_ACCEPT_URL` |" in line)
    assert f"`{reverse('dashboard:tradera-accept')}`" in row


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_link_between_the_pages_leads_somewhere(page):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # https://, mailto:
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.M)
            if anchor not in {_slug(heading) for heading in headings}:
                broken.append(target)
    assert broken == []
