"""The SDK and the `rheo` command against a live Rheo (`make run`, started by the tests):
the README's Quick Start in SDK form, the CLI, and every SDK method's requests and
answers against the OpenAPI schema."""

import csv
import json
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from rheo_client import Rheo, RheoError, WebhookVerificationError, verify_webhook

from tests.sdk.conftest import (
    RHEO_CLI,
    ROOT,
    cli_env,
    rheo_cli,
)
from tests.sdk.openapi import OpenAPI
from tests.system.shell import free_port

README = ROOT / "clients" / "python" / "README.md"
DEADLINE = 180


def quick_start_blocks(readme: str) -> list[tuple[str, str | None]]:
    """The ```python blocks under "## Quick Start", each with the plain ``` block that
    follows it (what it prints), if one does."""
    start = readme.index("\n## Quick Start\n")
    section = readme[start : readme.index("\n## ", start + 1)]
    blocks = re.findall(r"^```(python|)\n(.*?)^```", section, flags=re.S | re.M)
    pairs: list[tuple[str, str | None]] = []
    for kind, text in blocks:
        if kind == "python":
            pairs.append((text, None))
        else:
            pairs[-1] = (pairs[-1][0], text)
    return pairs


def test_the_sdk_quick_start_works_as_written(running_system, monkeypatch, capsys):
    monkeypatch.setenv("RHEO", running_system.base_url)
    monkeypatch.setenv("RHEO_KEY", running_system.key)
    blocks = quick_start_blocks(README.read_text())
    assert len(blocks) == 7
    namespace: dict = {}
    for code, printed in blocks:
        exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - the README's code
        assert capsys.readouterr().out.strip() == (printed or "").strip(), code


def item(base_url: str, **overrides) -> dict:
    return {
        "title": "Volvo V70 dörrhandtag",
        "price": 250,
        "shippingCost": 49,
        "imageUrls": [f"{base_url}/static/samples/caliper-2.jpg"],
        **overrides,
    }


class Recording(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.answers: list[requests.Response] = []
        self.hooks["response"].append(lambda response, **_: self.answers.append(response))


def test_every_sdk_method_sends_and_gets_what_the_openapi_schema_says(running_system):
    base = running_system.base_url
    schema = OpenAPI(requests.get(f"{base}/api/schema/?format=json", timeout=30).json())
    # An active item to PATCH, pushed unrecorded: the schema wants https image URLs, and
    # under make run only the server's own http samples can be fetched.
    setup = Rheo(running_system.key, base)
    setup.put_item("SCHEMA-A", item(base))
    https = {"imageUrls": ["https://your-cdn.example.com/parts/1.jpg"]}
    session = Recording()
    rheo = Rheo(running_system.key, base, session=session)

    rheo.put_item("SCHEMA-1", item(base, **https), validate_only=True)
    rheo.put_item("SCHEMA-1", item(base, sourceVersion=1, **https))
    rheo.put_item("SCHEMA-1", item(base, price=300, sourceVersion=2, **https))
    rheo.batch_upsert([{**item(base, **https), "externalId": "SCHEMA-2"}], validate_only=True)
    # The request must be valid by the schema; the same id twice is invalid by Rheo's rule.
    rheo.batch_upsert([{**item(base, **https), "externalId": externalId}
                       for externalId in ("SCHEMA-2", "DUP", "DUP")])  # fmt: skip
    list(rheo.list_items(q="SCHEMA-", page_size=1))  # three pages, by cursor
    rheo.list_items_page(rheo_status="draft", tradera_status="none", external_ids=["SCHEMA-1"],
                         updated_since="2026-01-01T00:00:00Z")  # fmt: skip
    deadline = time.monotonic() + DEADLINE
    while (current := rheo.get_item("SCHEMA-A")).rheo_status != "active":
        assert time.monotonic() < deadline, current
        time.sleep(0.5)
    rheo.update_price("SCHEMA-A", 275, if_match=current.etag)
    with pytest.raises(RheoError):  # the ETag is stale now: 412
        rheo.update_price("SCHEMA-A", 280, if_match=current.etag)
    rheo.update_status("SCHEMA-A", "not_listed")
    with pytest.raises(RheoError):  # not on Tradera: 409
        rheo.simulate("SCHEMA-A", "sold")
    with pytest.raises(RheoError):
        rheo.get_item("SCHEMA-NONE")
    rheo.delete_item("SCHEMA-2")

    for answer in session.answers:
        schema.check(answer)
    operations = {(method, template) for method, template, _ in schema.checked}
    assert operations >= {
        ("PUT", "/integration/v1/items/{external_id}"),
        ("GET", "/integration/v1/items/{external_id}"),
        ("DELETE", "/integration/v1/items/{external_id}"),
        ("PATCH", "/integration/v1/items/{external_id}/price"),
        ("PATCH", "/integration/v1/items/{external_id}/status"),
        ("POST", "/integration/v1/items/{external_id}/simulate"),
        ("POST", "/integration/v1/items/batch"),
        ("GET", "/integration/v1/items"),
    }
    statuses = {status for _, _, status in schema.checked}
    assert {200, 202, 404, 409, 412} <= statuses


def test_the_events_methods_send_and_get_what_the_openapi_schema_says(running_system):
    base = running_system.base_url
    schema = OpenAPI(requests.get(f"{base}/api/schema/?format=json", timeout=30).json())
    session = Recording()
    rheo = Rheo(running_system.key, base, session=session)
    Rheo(running_system.key, base).put_item("SCHEMA-E", item(base, autoPublishTradera=True))
    wait_published(rheo, "SCHEMA-E")  # a listing.created event at least
    session.answers.clear()

    assert list(rheo.events(page_size=1))
    rheo.events_page(type="listing.created", external_id="SCHEMA-E",
                     created_after="2026-01-01T00:00:00Z", created_before="2100-01-01T00:00:00Z",
                     limit=5)  # fmt: skip

    for answer in session.answers:
        schema.check(answer)
    assert {t for _, t, _ in schema.checked} == {"/integration/v1/events"}


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(["Artikelnr", "Benämning", "Pris", "Frakt", "Bilder"])
        writer.writerows(rows)


def test_rheo_import_validates_imports_follows_to_published_and_resumes(running_system, tmp_path):
    base = running_system.base_url
    image = f"{base}/static/samples/caliper-1.jpg"
    rows = [[f"IMP-{n}", f"Bromsok {n}", f"{900 + n},50", "149", image] for n in range(4)]
    rows.append(["IMP-BAD", "Gratis", "0", "149", image])
    rows.append(["IMP-NOIMG", "Utan bild", "100", "49", f"{base}/static/samples/none.jpg"])
    stock = tmp_path / "stock.csv"
    write_csv(stock, rows)
    mapping = "externalId=Artikelnr,title=Benämning,price=Pris,shippingCost=Frakt,imageUrls=Bilder"

    done = rheo_cli(running_system, "import", str(stock), "--map", mapping,
                    "--set", "autoPublishTradera=true", "--wait", "300")  # fmt: skip

    assert done.returncode == 1, done.stderr
    summary = dict(re.findall(r"│ ([a-z ,]+?) +│ +([\d,]+) │", done.stdout))
    assert summary == {"rows in the file": "6", "created": "5", "invalid": "1",
                       "active": "4", "published": "4"}  # fmt: skip
    for line in ("Validating", "Importing", "Active", "Published"):
        assert re.search(rf"{line}\s.*\s(\d+)/\1\s", done.stderr), (line, done.stderr)
    assert "Importing" in done.stderr and "accepted 5" in done.stderr
    assert "2 rows with errors" in done.stdout
    with (tmp_path / "stock.errors.csv").open(encoding="utf-8") as file:
        errors = list(csv.DictReader(file))
    assert [(e["row"], e["externalId"], e["outcome"], e["code"]) for e in errors] == [
        ("6", "IMP-BAD", "invalid", "validation_error"),
        ("7", "IMP-NOIMG", "image_failed", "image_download_failed"),
    ]
    assert json.loads(errors[0]["fields"]) == {
        "price": ["Ensure this value is greater than or equal to 1."]
    }
    rheo = Rheo(running_system.key, base)
    published = rheo.get_item("IMP-0")
    assert (published.rheo_status, published.tradera_status) == ("active", "active")
    assert published.price == 900.5

    # Again, one row changed: only that row is sent (and the bad one validated again).
    rows[1][2] = "999"
    write_csv(stock, rows)
    again = rheo_cli(running_system, "import", str(stock), "--map", mapping,
                     "--set", "autoPublishTradera=true", "--wait", "0")  # fmt: skip

    assert "4 rows unchanged since the last import: skipped" in again.stderr
    summary = dict(re.findall(r"│ ([a-z ,]+?) +│ +([\d,]+) │", again.stdout))
    assert summary["updated"] == "1" and summary["invalid"] == "1"
    assert rheo.get_item("IMP-1").price == 999


def test_rheo_items_list_and_get(running_system):
    rheo = Rheo(running_system.key, running_system.base_url)
    for n in range(3):
        rheo.put_item(f"LIST-{n}", item(running_system.base_url))
    rheo.update_status("LIST-2", "not_listed")  # a draft can be de-listed

    listed = rheo_cli(running_system, "items", "list", "--status", "not_listed", "--json")
    got = rheo_cli(running_system, "items", "get", "LIST-1")
    missing = rheo_cli(running_system, "items", "get", "LIST-NONE")

    assert listed.returncode == 0, listed.stderr
    not_listed = json.loads(listed.stdout)
    assert "LIST-2" in [i["externalId"] for i in not_listed]
    assert {i["rheoStatus"] for i in not_listed} == {"not_listed"}
    assert json.loads(got.stdout)["externalId"] == "LIST-1"
    assert missing.returncode == 1
    assert "not_found" in missing.stderr and "requestId: req_" in missing.stderr
    table = rheo_cli(running_system, "items", "list", "--api-key", "rheo_test_wrong",
                     "--base-url", running_system.base_url)  # fmt: skip
    assert table.returncode == 1 and "authentication_failed" in table.stderr


class Receiver:
    """A partner's local webhook handler: verifies each POST with verify_webhook."""

    def __init__(self) -> None:
        self.secret = ""
        self.verified: list[dict] = []
        self.refused = 0
        self.got_one = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    receiver.verified.append(verify_webhook(body, self.headers, receiver.secret))
                    receiver.got_one.set()
                    self.send_response(204)
                except WebhookVerificationError:
                    receiver.refused += 1
                    self.send_response(400)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def wait_published(rheo: Rheo, external_id: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while (current := rheo.get_item(external_id)).tradera_status != "active":
        assert time.monotonic() < deadline, current
        time.sleep(0.5)


def test_rheo_webhook_listen_forwards_a_simulated_sale_signed_to_a_local_app(running_system):
    rheo = Rheo(running_system.key, running_system.base_url)
    rheo.put_item("LISTEN-1", item(running_system.base_url, autoPublishTradera=True))
    wait_published(rheo, "LISTEN-1")
    receiver = Receiver()
    listen = subprocess.Popen(
        [str(RHEO_CLI), "webhook", "listen", "--forward", f"http://127.0.0.1:{receiver.port}/hook",
         "--external-id", "LISTEN-1", "--interval", "0.5"],
        env=cli_env(running_system), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert listen.stdout is not None
        ready = listen.stdout.readline()
        receiver.secret = re.search(r"secret is (whsec_\S+)", ready).group(1)

        rheo.simulate("LISTEN-1", "sold")

        assert receiver.got_one.wait(DEADLINE), "no event forwarded"
        event = receiver.verified[0]
        assert (event["eventType"], event["data"]["externalId"]) == ("item.sold", "LISTEN-1")
        assert receiver.refused == 0
        forwarded = listen.stdout.readline()
        assert forwarded.startswith("--> item.sold evt_") and forwarded.rstrip().endswith("[204]")
    finally:
        listen.kill()
        listen.wait(10)
        receiver.server.shutdown()


def test_rheo_events_tail_prints_new_events_as_they_happen(running_system):
    rheo = Rheo(running_system.key, running_system.base_url)
    tail = subprocess.Popen(
        [str(RHEO_CLI), "events", "tail", "--json", "--external-id", "TAIL-1", "--interval",
         "0.5", "--max-events", "1"],
        env=cli_env(running_system), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        rheo.put_item("TAIL-1", item(running_system.base_url, autoPublishTradera=True))
        out, _ = tail.communicate(timeout=DEADLINE)
    finally:
        tail.kill()
    event = json.loads(out)
    assert (event["eventType"], event["externalId"]) == ("listing.created", "TAIL-1")
