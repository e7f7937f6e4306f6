"""`make run` for a newcomer: its ports, its .env, what it prints. The real Makefile target
(tests/system/conftest.py), on free ports, SQLite and the embedded broker."""

import re
import socket
import time

import pytest
import requests

from tests.system.conftest import (
    RunningSystem,
    free_port_pair,
    launch,
    start_system,
    stop,
    wait_until_up,
)

PUBLISH_SECONDS = 60


@pytest.fixture(scope="module")
def second_copy(request, tmp_path_factory):
    """Another copy of Rheo beside `running_system`: its own .env, var/ and ports. Both
    come up at the same time when neither runs yet."""
    folder, port = tmp_path_factory.mktemp("second-copy"), free_port_pair()
    process, output = launch(folder, port)
    system = RunningSystem(folder, port, port + 1, process, output)
    try:
        request.getfixturevalue("running_system")
        wait_until_up(system)
        yield system
    finally:
        stop(process)


@pytest.mark.parametrize(
    "busy, expected",
    [
        (
            0,
            r"Port {web} \(Rheo, PORT\) is in use: start with another PORT, "
            r"e\.g\. PORT=\d+ make run",
        ),
        (
            1,
            r"Port {sandbox} \(Tradera sandbox, PORT\+1\) is in use: start with another PORT, "
            r"e\.g\. PORT=\d+ make run, or set TRADERA_SANDBOX_PORT",
        ),
    ],
    ids=["web port", "sandbox port"],
)
def test_a_busy_port_stops_make_run_with_one_line_naming_it(tmp_path, busy, expected):
    port = free_port_pair()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port + busy))
        holder.listen()
        process, output = launch(tmp_path, port)
        try:
            process.wait(60)
        finally:
            stop(process)
    output.finished(5)

    assert process.returncode != 0
    ours = [line for line in output.lines if not line.startswith("make: ***")]
    assert len(ours) == 1, output.text
    assert re.fullmatch(expected.format(web=port, sandbox=port + 1), ours[0]), ours[0]


def test_two_copies_run_side_by_side_each_publishing_to_its_own_sandbox(
    running_system, second_copy
):
    first, second = running_system, second_copy
    assert first.port != second.port
    for system in (first, second):
        assert requests.get(f"{system.base_url}/readyz", timeout=10).status_code == 200

    pushed = requests.put(
        f"{second.base_url}/integration/v1/items/SIDE-BY-SIDE-1",
        headers={"x-api-key": second.key},
        json=quick_start_item(second.port, autoPublishTradera=True),
        timeout=10,
    )
    assert pushed.status_code == 202, pushed.text
    item_id = pushed.json()["itemId"]

    def auctions_of(system) -> list[dict]:
        found = requests.get(f"{system.sandbox_url}/control/auctions", timeout=10).json()
        return [a for a in found["auctions"] if item_id in a["ownReferences"]]

    deadline = time.monotonic() + PUBLISH_SECONDS
    while not auctions_of(second):
        assert time.monotonic() < deadline, "the second copy published to no sandbox of its own"
        time.sleep(0.2)
    assert auctions_of(first) == []


def test_manage_py_works_with_only_the_env_file(second_copy):
    made = second_copy.manage("create_api_key", "--partner", second_copy.email, "--test")

    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    assert authenticated_not_found(second_copy.base_url, key)


def test_a_second_start_prints_the_same_login_and_key_and_they_work(second_copy):
    stop(second_copy.process)

    with start_system(second_copy.folder, port=second_copy.port) as again:
        assert again.exports == second_copy.exports
        assert authenticated_not_found(again.base_url, again.key)
        token = requests.post(
            f"{again.base_url}/api/v1/auth/token",
            json={"email": again.email, "password": again.password},
            timeout=10,
        )
        assert token.status_code == 200, token.text
        assert f"Dashboard login: {again.email} / {again.password}" in again.output.text


def authenticated_not_found(base_url: str, key: str) -> bool:
    """An unknown item with `key`: 404 in the error format, so the key was accepted."""
    answer = requests.get(
        f"{base_url}/integration/v1/items/NO-SUCH-ITEM", headers={"x-api-key": key}, timeout=10
    )
    return answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


def quick_start_item(port: int, **overrides) -> dict:
    base = f"http://127.0.0.1:{port}/static/samples"
    return {
        "title": "Volvo XC90 bromsok fram vänster — 2018",
        "description": "Testad och fungerande. Skick B.",
        "price": 950,
        "shippingCost": 149,
        "weightKg": 3.2,
        "imageUrls": [f"{base}/caliper-1.jpg"],
        "domain": {
            "domain": "automotive_part",
            "oemCode": "31400452",
            "manufacturer": "Volvo",
            "compatibleModels": ["XC90"],
            "donorVehicleYear": 2018,
            "conditionGrade": "B",
        },
        **overrides,
    }
