"""`rheo import` of a 2,000-row CSV file into a live Rheo of its own (`make run`, on the
Pro plan so 2,000 items fit): both progress bars run to done, the bad rows land in the
errors CSV, the good ones in Rheo, and a second run skips every row it sent."""

import csv
import re

import requests
from rheo_client import Rheo

from tests.sdk.conftest import rheo_cli
from tests.system.conftest import start_system

ROWS = 2000
BAD = {n for n in range(ROWS) if n % 97 == 5}  # 21 rows priced 0


def choose_plan(system, plan: str) -> None:
    """As the partner would: the Management API, logged in as the demo user."""
    token = requests.post(
        f"{system.base_url}/api/v1/auth/token",
        json={"email": system.email, "password": system.password},
        timeout=30,
    ).json()["access"]
    answer = requests.put(
        f"{system.base_url}/api/v1/analytics/subscription",
        json={"plan": plan},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def test_a_2000_row_import_runs_to_done_with_an_errors_csv_and_resumes(tmp_path):
    with start_system(tmp_path / "make-run") as system:
        choose_plan(system, "pro")
        stock = tmp_path / "lager.csv"
        image = f"{system.base_url}/static/samples/caliper-1.jpg"
        with stock.open("w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file, delimiter=";")
            writer.writerow(["Artikelnr", "Benämning", "Pris", "Frakt", "Bild", "Årsmodell"])
            for n in range(ROWS):
                price = "0" if n in BAD else f"{100 + n},00"
                writer.writerow([f"BULK-{n:05}", f"Del {n}", price, "49", image, "2015"])
        mapping = ("externalId=Artikelnr,title=Benämning,price=Pris,shippingCost=Frakt,"
                   "imageUrls=Bild,domain.donorVehicleYear=Årsmodell")  # fmt: skip

        first = rheo_cli(system, "import", str(stock), "--map", mapping, "--wait", "0")

        assert first.returncode == 1, first.stderr
        good = ROWS - len(BAD)
        assert re.search(rf"Validating\s.*\s{ROWS}/{ROWS}\s", first.stderr), first.stderr
        assert re.search(rf"Importing\s.*\s{good}/{good}\s.*accepted {good:,}", first.stderr)
        summary = dict(re.findall(r"│ ([a-z ,]+?) +│ +([\d,]+) │", first.stdout))
        assert summary["rows in the file"] == f"{ROWS:,}"
        assert summary["created"] == f"{good:,}"
        assert summary["invalid"] == str(len(BAD))
        with (tmp_path / "lager.errors.csv").open(encoding="utf-8") as file:
            errors = list(csv.DictReader(file))
        assert [e["externalId"] for e in errors] == [f"BULK-{n:05}" for n in sorted(BAD)]
        assert [int(e["row"]) for e in errors] == [n + 2 for n in sorted(BAD)]
        assert {e["code"] for e in errors} == {"validation_error"}
        rheo = Rheo(system.key, system.base_url)
        assert sum(1 for _ in rheo.list_items(q="BULK-")) == good

        again = rheo_cli(system, "import", str(stock), "--map", mapping, "--wait", "0")

        assert f"{good} rows unchanged since the last import: skipped" in again.stderr
        assert re.search(rf"Validating\s.*\s{len(BAD)}/{len(BAD)}\s", again.stderr)
