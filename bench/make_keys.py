"""Create N partners with one live API key each, through the project's own services, and
write the keys (one a line) to a file. Prints the id of one more partner, without a key,
that owns the raw-upsert view's rows, as `RAW_PARTNER_ID=<uuid>`, on the unlimited plan:
were they a key's partner's, that partner would reach its plan's item limit during a run
and its PUTs would be refused with 402.

    DJANGO_SETTINGS_MODULE=bench.settings python -m bench.make_keys 1000 /tmp/keys.txt
"""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402

django.setup()

from partners.services import create_api_key, create_partner  # noqa: E402
from partners.subscriptions import change_plan  # noqa: E402


def main(count: int, out_path: str) -> None:
    raw_partner, _user = create_partner(name="Bench raw upsert", email="raw@bench.invalid")
    # Its thousands of rows are past every public plan's item limit, which the database
    # enforces on every INSERT (the raw upsert's too: it pays the trigger's plan lookup).
    change_plan(partner=raw_partner, plan_code="enterprise", staff=True)
    secrets = []
    for i in range(count):
        partner, _user = create_partner(
            name=f"Bench dismantler {i}", email=f"bench{i}@bench.invalid"
        )
        secrets.append(create_api_key(partner=partner, name="bench", mode="live").secret)
    with open(out_path, "w") as out:
        out.write("\n".join(secrets) + "\n")
    print(f"RAW_PARTNER_ID={raw_partner.id}")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
