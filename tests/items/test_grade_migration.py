"""items migration 0015 fills Item.grade of existing items from their domain JSON. (Only
that migration is undone and done again; should the merge renumber it, rename BEFORE and
AFTER.)"""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from items.models import Item
from tests.conftest import item_body

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("items", "0015_relisting")]
AFTER = [("items", "0016_grade_scale")]


def test_existing_items_take_their_grade_from_the_domain(api_a):
    for external_id, domain in [
        ("p1", {"domain": "automotive_part", "conditionGrade": "C"}),
        ("p2", {"domain": "automotive_part"}),
        ("p3", None),
    ]:
        api_a.put(external_id, item_body(domain=domain))
    Item.objects.update(grade="")  # as the rows were before the column

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # any later migration, back again

    assert dict(Item.objects.values_list("external_id", "grade")) == {
        "p1": "C",
        "p2": "",
        "p3": "",
    }
