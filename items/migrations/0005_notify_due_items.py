# An item row written due and not yet nudged notifies the job dispatcher when it commits
# (items/dispatch.py): NOTIFY rides on the writer's own commit, at no extra round trip.
# PostgreSQL only; SQLite has no LISTEN/NOTIFY and its PUTs publish their jobs themselves.

from django.db import migrations

CREATE = """
CREATE FUNCTION items_item_notify_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rheo_items_due', NEW.id::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER items_item_notify_due
    AFTER INSERT OR UPDATE OF processing_due_at, processing_nudged_at ON items_item
    FOR EACH ROW
    WHEN (NEW.processing_due_at IS NOT NULL AND NEW.processing_nudged_at IS NULL)
    EXECUTE FUNCTION items_item_notify_due();
"""

DROP = """
DROP TRIGGER IF EXISTS items_item_notify_due ON items_item;
DROP FUNCTION IF EXISTS items_item_notify_due();
"""


def run_on_postgres(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("items", "0004_sales_and_timeline"),
    ]

    operations = [
        migrations.RunPython(run_on_postgres(CREATE), run_on_postgres(DROP)),
    ]
