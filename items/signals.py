"""The one hook through which a sales channel (Tradera) hears of an item's changes.

`channels_due` is sent once a change its channels must follow (its status, its price,
its deletion) has committed, with `item_id`. It is a nudge only: the change marked the
item due (`Item.channels_due_at`) in its own transaction, and each channel's sweeper finds
due items whose nudge was lost (see items.lifecycle.follow_on_channels).
"""

from django.dispatch import Signal

channels_due = Signal()
