from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.contrib import admin, messages
from django.db import models

from rheo.errors import ServiceError


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows that change only through their app's services (and the admin's actions,
    which call them): staff look, never edit."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """Rows shown beside their parent, as they are."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


Row = TypeVar("Row", bound=models.Model)


def act_on_each(
    modeladmin: admin.ModelAdmin,
    request,
    queryset: Iterable[Row],
    service: Callable[[Row], object],
    *,
    done: str,
    unchanged: str,
) -> None:
    """An admin action's body: `service(row)` for each selected row, then one message
    saying what became of each, e.g. "2 redelivered; 1 skipped (This event is already on
    its way to the endpoint): evt_…". The service returns False when the row already was
    as asked (so running an action twice is harmless) and raises ServiceError when the
    row's state forbids it."""
    count, skipped = 0, defaultdict(list)
    for row in queryset:
        try:
            outcome = service(row)
        except ServiceError as exc:
            skipped[exc.message.rstrip(".")].append(str(row))
            continue
        if outcome is False:
            skipped[unchanged].append(str(row))
        else:
            count += 1
    parts = [f"{count} {done}"]
    parts += [f"{len(rows)} skipped ({why}): {', '.join(rows)}" for why, rows in skipped.items()]
    level = messages.WARNING if skipped else messages.SUCCESS
    modeladmin.message_user(request, "; ".join(parts) + ".", level)
