"""The plan's item limit, enforced by the database on every INSERT of a counted item.

A create used to insert, commit, then count in a second query, deleting its item again
when over the limit: a refused item existed for an instant, and creates racing for the
last places could all be refused. The trigger counts inside the INSERT, after its row is
in: an item over the limit is never written, and on PostgreSQL creates of one partner and
mode queue on an advisory lock held until their commit, so each count sees every create
before it and exactly the allowance passes. Updates insert nothing and are never counted.

The limit is the partner's plan's max_active_items (the default plan's without a
subscription row; NULL: unlimited); counted are the partner's items in that mode in draft or
active, not deleted (items.models.Item.PLAN_COUNTED_STATUSES). The error names
`item_plan_limit`; items.services turns it into plan_limit_reached (402).
"""

from django.db import migrations

LIMIT = (
    "CASE WHEN EXISTS (SELECT 1 FROM partners_subscription s WHERE s.partner_id = NEW.partner_id)"
    " THEN (SELECT p.max_active_items FROM partners_subscription s"
    " JOIN partners_plan p ON p.id = s.plan_id WHERE s.partner_id = NEW.partner_id)"
    " ELSE (SELECT p.max_active_items FROM partners_plan p WHERE p.is_default) END"
)
COUNTED = (
    "SELECT count(*) FROM items_item WHERE partner_id = NEW.partner_id"
    " AND livemode = NEW.livemode AND deleted_at IS NULL AND status IN ('draft', 'active')"
)
WHEN = "NEW.deleted_at IS NULL AND NEW.status IN ('draft', 'active')"

POSTGRESQL = [
    f"""
    CREATE FUNCTION items_item_plan_limit() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        item_limit integer := {LIMIT};
        counted bigint;
    BEGIN
        IF item_limit IS NULL THEN
            RETURN NULL;
        END IF;
        PERFORM pg_advisory_xact_lock(
            hashtextextended('item_plan_limit:' || NEW.partner_id || ':' || NEW.livemode, 0)
        );
        -- A new statement, so a new snapshot: every create that held the lock before
        -- this one has committed and is counted.
        counted := ({COUNTED});
        IF counted > item_limit THEN
            RAISE EXCEPTION 'item_plan_limit: % of % items', counted, item_limit
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE TRIGGER items_item_plan_limit AFTER INSERT ON items_item
    FOR EACH ROW WHEN ({WHEN}) EXECUTE FUNCTION items_item_plan_limit()
    """,
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS items_item_plan_limit ON items_item",
    "DROP FUNCTION IF EXISTS items_item_plan_limit()",
]
# SQLite runs one writer at a time: the count needs no lock.
SQLITE = [
    f"""
    CREATE TRIGGER items_item_plan_limit AFTER INSERT ON items_item
    FOR EACH ROW WHEN {WHEN}
    BEGIN
        SELECT RAISE(ABORT, 'item_plan_limit') WHERE ({COUNTED}) > ({LIMIT});
    END
    """
]
SQLITE_REVERSE = ["DROP TRIGGER IF EXISTS items_item_plan_limit"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor[schema_editor.connection.vendor]:
            schema_editor.execute(statement, params=None)  # its % are not placeholders

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("items", "0006_plan_limit_index"),
        ("partners", "0002_subscriptions"),
    ]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE}),
        )
    ]
