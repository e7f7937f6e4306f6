"""The plan limit's trigger names its refusal: on PostgreSQL the error carries the
constraint name `item_plan_limit` (psycopg's diag.constraint_name), so items.services
recognises it by name rather than by its message. SQLite's trigger is unchanged: its
refusal is told by its error code (SQLITE_CONSTRAINT_TRIGGER).

The statuses counted are Item.PLAN_COUNTED_STATUSES as they were when this was written;
tests/items/test_plan_limit.py checks that the trigger the migrations install still
counts what the model says.
"""

from django.db import migrations

COUNTED_STATUSES = ("draft", "active")
STATUSES = ", ".join(f"'{status}'" for status in COUNTED_STATUSES)

LIMIT = (
    "CASE WHEN EXISTS (SELECT 1 FROM partners_subscription s WHERE s.partner_id = NEW.partner_id)"
    " THEN (SELECT p.max_active_items FROM partners_subscription s"
    " JOIN partners_plan p ON p.id = s.plan_id WHERE s.partner_id = NEW.partner_id)"
    " ELSE (SELECT p.max_active_items FROM partners_plan p WHERE p.is_default) END"
)
COUNTED = (
    "SELECT count(*) FROM items_item WHERE partner_id = NEW.partner_id"
    f" AND livemode = NEW.livemode AND deleted_at IS NULL AND status IN ({STATUSES})"
)


def function(raise_using: str) -> str:
    return f"""
    CREATE OR REPLACE FUNCTION items_item_plan_limit() RETURNS trigger LANGUAGE plpgsql AS $$
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
                USING {raise_using};
        END IF;
        RETURN NULL;
    END
    $$
    """


def run(sql: str):
    def on_postgresql(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # its % are not placeholders

    return on_postgresql


class Migration(migrations.Migration):
    dependencies = [("items", "0008_follow_on_channels")]

    operations = [
        migrations.RunPython(
            run(function("ERRCODE = 'check_violation', CONSTRAINT = 'item_plan_limit'")),
            run(function("ERRCODE = 'check_violation'")),
        )
    ]
