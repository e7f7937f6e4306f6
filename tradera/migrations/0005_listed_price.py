"""Listings remember the opening price their auction has (tradera.services.follow compares
it with the item's), and every item Tradera may have to follow is followed once, so what
the old after-commit hook may have missed is caught up."""

import math

from django.db import migrations, models
from django.utils import timezone


def catch_up(apps, schema_editor):
    Item = apps.get_model("items", "Item")
    TraderaListing = apps.get_model("tradera", "TraderaListing")
    running = TraderaListing.objects.filter(status__in=["active", "pending_sync"])
    for listing in running.filter(request_id__isnull=False).select_related("item"):
        # What a running auction was last asked to show.
        listing.listed_price = math.ceil(listing.wanted_price or listing.item.price)
        listing.save(update_fields=["listed_price"])
    now = timezone.now()
    Item.objects.filter(pk__in=running.values("item_id")).update(
        channels_due_at=now, channels_nudged_at=now
    )
    Item.objects.filter(
        auto_publish_tradera=True, status="active", deleted_at__isnull=True
    ).update(channels_due_at=now, channels_nudged_at=now)


class Migration(migrations.Migration):
    dependencies = [
        ("tradera", "0004_sync_by_seller_items"),
        ("items", "0008_follow_on_channels"),
    ]

    operations = [
        migrations.AddField(
            model_name="traderalisting",
            name="listed_price",
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=12, null=True),
        ),
        migrations.RunPython(catch_up, migrations.RunPython.noop),
    ]
