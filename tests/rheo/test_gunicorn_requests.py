"""What gunicorn hands Rheo, through a real gunicorn as the Procfile runs it: a chunked
body (no Content-Length) is read, within the body limit, and the URL and header limits
are answered by Rheo in JSON, below gunicorn's own (whose pages are not JSON)."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from django.db import connection

from items.models import Item
from tests.conftest import integration, item_body, make_partner, needs_postgres
from tests.items.test_worker_failures import ROOT

pytestmark = [needs_postgres, pytest.mark.django_db(transaction=True)]

BODY_LIMIT = 4096
BATCH_BODY_LIMIT = 16384


@pytest.fixture(scope="module")
def gunicorn(django_db_setup, tmp_path_factory):
    """One gunicorn for the module's tests, on the test database."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rheo.settings_test",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        "RHEO_VAR_DIR": str(tmp_path_factory.mktemp("gunicorn")),
        "RHEO_MAX_BODY_BYTES": str(BODY_LIMIT),
        "RHEO_MAX_BATCH_BODY_BYTES": str(BATCH_BODY_LIMIT),
        "WEB_CONCURRENCY": "1",
    }
    command = [sys.executable, "-m", "gunicorn", "-c", "python:rheo.gunicorn",
               "--bind", f"fd://{listener.fileno()}", "--no-control-socket",
               "rheo.wsgi"]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, pass_fds=[listener.fileno()], start_new_session=True
    )
    port = listener.getsockname()[1]
    listener.close()
    deadline = time.monotonic() + 30
    while not answers(port):
        assert process.poll() is None, "gunicorn exited"
        assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
        time.sleep(0.1)
    yield port
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False


def call(port, method, path, *, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = headers or {}
    chunked = headers.get("Transfer-Encoding") == "chunked"
    connection.request(method, path, body=body, headers=headers, encode_chunked=chunked)
    response = connection.getresponse()
    return response.status, response.getheader("Content-Type"), response.read()


def chunks(data: bytes, size: int = 100):
    return iter([data[i : i + size] for i in range(0, len(data), size)])


def test_a_chunked_put_is_read_whole(gunicorn):
    key = integration(make_partner("Chunk AB", "chunk@rheo.example"), "test").key
    body = json.dumps(item_body(title="Chunked caliper")).encode()
    headers = {"x-api-key": key, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}

    status, _, content = call(
        gunicorn, "PUT", "/integration/v1/items/CH-1", body=chunks(body), headers=headers
    )

    assert status == 202, content
    assert Item.objects.get(external_id="CH-1").title == "Chunked caliper"


def test_a_chunked_body_over_the_limit_is_a_json_413(gunicorn):
    key = integration(make_partner("Chunk AB", "chunk@rheo.example"), "test").key
    body = json.dumps(item_body(description="x" * BODY_LIMIT)).encode()
    headers = {"x-api-key": key, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}

    status, content_type, content = call(
        gunicorn, "PUT", "/integration/v1/items/CH-1", body=chunks(body), headers=headers
    )

    assert (status, content_type) == (413, "application/json")
    assert json.loads(content)["error"]["code"] == "payload_too_large"
    assert not Item.objects.exists()


def test_a_chunked_batch_is_read_up_to_the_batchs_own_limit(gunicorn):
    key = integration(make_partner("Chunk AB", "chunk@rheo.example"), "test").key
    headers = {"x-api-key": key, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}

    def batch(description: str):
        entry = {"externalId": "CH-B", **item_body(description=description)}
        body = json.dumps({"items": [entry]}).encode()
        return call(
            gunicorn, "POST", "/integration/v1/items/batch", body=chunks(body), headers=headers
        )

    over_put_limit = batch("x" * (BODY_LIMIT * 2))
    over_batch_limit = batch("x" * BATCH_BODY_LIMIT)

    assert over_put_limit[0] == 200, over_put_limit
    assert json.loads(over_put_limit[2])["results"][0]["outcome"] == "created"
    assert over_batch_limit[0] == 413
    assert json.loads(over_batch_limit[2])["error"]["code"] == "payload_too_large"


def test_a_chunked_put_to_the_item_named_batch_keeps_the_puts_limit(gunicorn):
    key = integration(make_partner("Chunk AB", "chunk@rheo.example"), "test").key
    body = json.dumps(item_body(description="x" * (BODY_LIMIT * 2))).encode()
    assert len(body) < BATCH_BODY_LIMIT
    headers = {"x-api-key": key, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}

    status, _, content = call(
        gunicorn, "PUT", "/integration/v1/items/batch", body=chunks(body), headers=headers
    )

    assert status == 413, content
    assert json.loads(content)["error"]["code"] == "payload_too_large"
    assert not Item.objects.exists()


def test_a_chunked_reconciliation_is_read_within_its_own_larger_limit(gunicorn):
    key = integration(make_partner("Chunk AB", "chunk@rheo.example"), "test").key
    ids = [f"ERP_PART_{n:06}" for n in range(1000)]  # about 18 KB, over the 4 KB limit
    body = json.dumps({"externalIds": ids}).encode()
    assert len(body) > BODY_LIMIT
    headers = {"x-api-key": key, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}

    status, _, content = call(
        gunicorn, "POST", "/integration/v1/reconciliations", body=chunks(body), headers=headers
    )

    assert status == 201, content
    assert json.loads(content)["unknown"] == 1000


def test_url_and_header_limits_answer_in_json(gunicorn):
    status, content_type, content = call(gunicorn, "GET", "/integration/v1/items/" + "x" * 5000)
    assert (status, content_type) == (414, "application/json")
    assert json.loads(content)["error"]["code"] == "uri_too_long"

    headers = {"X-Erp-Trace": "t" * 9000}
    status, content_type, content = call(gunicorn, "GET", "/api/v1/webhook", headers=headers)
    assert (status, content_type) == (431, "application/json")
    assert json.loads(content)["error"]["code"] == "headers_too_large"
