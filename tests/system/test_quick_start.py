"""The README's Quick Start, as a newcomer follows it, against the real `make run`.

`running_system` (tests/system/conftest.py) is `make run` on free ports (PORT and PORT+1;
everything must follow PORT). The fenced `sh` blocks under README.md's "Quick Start" are
typed, one after the other, into one bash shell that has only what a new terminal has
plus the pasted export line. What is asserted is what that user sees: the webhook's
secret, the PUT's 202, the item's status on its way to a live auction, the example
receiver printing a verified `listing.created` and then `item.sold`, a batch's results;
and, as step 6 says, the sandbox Tradera account connected from the dashboard through the sandbox's
consent page.
"""

import json
import re
from html import unescape
from pathlib import Path

import requests

from tests.system.shell import Shell, free_port

ROOT = Path(__file__).resolve().parents[2]
EXPORTED = {"RHEO", "RHEO_KEY", "RHEO_EMAIL", "RHEO_PASSWORD"}
# What the blocks set themselves.
SET_BY_THE_BLOCKS = {"HOOK_PORT", "TOKEN", "WEBHOOK", "RHEO_WEBHOOK_SECRET"}
# Every (rheoStatus, traderaStatus) step 3 can show on the way, as README.md says.
ON_THE_WAY = {("draft", None), ("active", None), ("active", "pending_sync"), ("active", "active")}


def quick_start_blocks(readme: str) -> list[str]:
    """The ```sh blocks from "## Quick Start" up to the next level-2 heading."""
    start = readme.index("\n## Quick Start\n")
    end = readme.find("\n## ", start + 1)
    section = readme[start : end if end != -1 else None]
    return re.findall(r"^```sh\n(.*?)^```", section, flags=re.S | re.M)


def test_the_readme_quick_start_works_as_written(running_system):
    blocks = quick_start_blocks((ROOT / "README.md").read_text())
    assert len(blocks) == 7, (
        "step 1 (webhook), 2 (PUT), 3 (GET, then the SDK), 4 (simulate), 5 (batch, then the CLI)"
    )
    for block in blocks:
        variables = set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", block))
        assert variables <= EXPORTED | SET_BY_THE_BLOCKS, block
    receiver, put, status, sdk_status, simulate, batch, cli_import = blocks
    assert set(running_system.exports) == EXPORTED

    env = {**running_system.shell_env, "HOOK_PORT": str(free_port())}
    with Shell(cwd=ROOT, env=env) as shell:
        # Step 1: the webhook is set, its secret shown, and the receiver listens.
        settings = json.loads(shell.run(receiver).splitlines()[0])
        assert settings["mode"] == "test"
        assert settings["secret"].startswith("whsec_")
        shell.wait_for("receiver: listening on")

        # Step 2: the item is accepted.
        answer = shell.run(put)
        assert answer.splitlines()[0].startswith("HTTP/1.1 202")
        assert '"success":true' in answer

        # Step 3: its status until the auction is live; every answer on the way is one
        # the README shows.
        def state() -> dict:
            item = json.loads(shell.run(status).splitlines()[-1])
            assert (item["rheoStatus"], item["traderaStatus"]) in ON_THE_WAY, item
            return item

        item = shell.poll(state, until=lambda item: item["traderaStatus"] == "active")
        ad_url = f"http://127.0.0.1:{running_system.sandbox_port}/item/{item['traderaAdId']}"
        assert item["traderaAdUrl"] == ad_url
        assert [image["sourceUrl"].rsplit("/", 1)[1] for image in item["images"]] == [
            "caliper-1.jpg",
            "caliper-2.jpg",
        ]
        assert shell.run(sdk_status).splitlines()[-1] == f"active active {ad_url}"
        created = json.loads(shell.wait_for("receiver: verified listing.created ").split(" ", 3)[3])
        assert created["traderaAdUrl"] == ad_url
        assert created["sequence"] == 1
        assert requests.get(ad_url, timeout=10).status_code == 200  # the auction's page

        # Step 4: the sale, reported by a verified item.sold.
        assert '"success":true' in shell.run(simulate)
        sold = json.loads(shell.wait_for("receiver: verified item.sold ").split(" ", 3)[3])
        assert (sold["externalId"], sold["salePrice"], sold["sequence"]) == (
            "ERP_PART_12345",
            950,
            2,
        )
        assert sold["traderaAdId"] == item["traderaAdId"]
        assert "receiver: refused" not in "\n".join(shell.lines)

        # Step 5: a batch of two, one created and one invalid, as the README shows.
        answer = json.loads(shell.run(batch).splitlines()[-1])
        assert [r["outcome"] for r in answer["results"]] == ["created", "invalid"]
        assert answer["results"][1]["error"]["fields"] == {
            "price": ["Ensure this value is greater than or equal to 1."]
        }

        # Step 5, the CLI: one row imported and active, the other in the errors CSV. (Its
        # resume file from an earlier run of this test would skip the rows.)
        for leftover in (ROOT / "var").glob("stock.*"):
            leftover.unlink()
        summary = shell.run(cli_import)
        assert re.search(r"created\s*│\s*1 ", summary), summary
        assert re.search(r"active\s*│\s*1 ", summary), summary
        assert summary.splitlines()[-1] == "1 row with errors: var/stock.errors.csv"
        errors = (ROOT / "var" / "stock.errors.csv").read_text(encoding="utf-8")
        assert "ERP_PART_12349,invalid,validation_error" in errors

    # Step 6: the dashboard opens in test mode; Integration → Tradera connection leads to
    # the sandbox's consent page, whose Accept brings the browser back connected.
    browser = requests.Session()
    rheo = running_system.base_url
    login_page = browser.get(f"{rheo}/dashboard/login/", timeout=10)
    dashboard = browser.post(
        login_page.url,
        data={
            "csrfmiddlewaretoken": _field(login_page.text, "csrfmiddlewaretoken"),
            "username": running_system.email,
            "password": running_system.password,
        },
        headers={"Referer": login_page.url},
        timeout=10,
    )
    assert dashboard.url == f"{rheo}/dashboard/"
    assert dashboard.status_code == 200  # make run's SQLite, not only the tests' PostgreSQL
    items = browser.get(f"{rheo}/dashboard/items/", timeout=10)
    assert items.status_code == 200
    assert "ERP_PART_12345" in items.text
    integration = browser.get(f"{rheo}/dashboard/integration/", timeout=10)
    assert "Connect a sandbox Tradera account" in integration.text  # test mode

    consent = browser.post(
        f"{rheo}/dashboard/integration/tradera/connect",
        data={"csrfmiddlewaretoken": _field(integration.text, "csrfmiddlewaretoken")},
        headers={"Referer": integration.url},
        timeout=10,
    )
    assert consent.url.startswith(f"http://127.0.0.1:{running_system.sandbox_port}/tokenlogin")
    back = browser.post(
        f"http://127.0.0.1:{running_system.sandbox_port}/tokenlogin.aspx",
        data={
            "skey": _field(consent.text, "skey"),
            "redirect": _field(consent.text, "redirect"),
            "name": "Quick Start seller",
        },
        timeout=10,
    )
    assert back.url == f"{rheo}/dashboard/integration/"
    connected = re.search(r"Sandbox Tradera seller (\d+) is connected", back.text)
    assert connected, back.text
    assert f"as sandbox seller <strong>{connected[1]}</strong>" in back.text


def _field(html: str, name: str) -> str:
    """The value of the form field `name` (Django's and the sandbox's forms)."""
    match = re.search(
        rf"""<input[^>]*name=["']?{name}["']?[^>]*value=(?:"([^"]*)"|'([^']*)')""", html
    )
    assert match, f"no {name} field in:\n{html}"
    return unescape(match[1] if match[1] is not None else match[2])
