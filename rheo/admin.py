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


def titled(title: str) -> type[admin.FieldListFilter]:
    """A field's list filter under a title of our own: `("status", titled("Rheo status"))`.
    Django titles a filter after the field's name, so two `status` filters read alike."""

    class TitledFilter(admin.FieldListFilter):
        def __new__(cls, *args, **kwargs):
            instance = admin.FieldListFilter.create(*args, **kwargs)
            instance.title = title
            return instance

    return TitledFilter


def mode_filter(field: str = "livemode") -> type[admin.SimpleListFilter]:
    """Live or test rows, by the boolean `field` (a path such as "item__livemode")."""

    class ModeFilter(admin.SimpleListFilter):
        title = "mode: live/test"
        parameter_name = "mode"

        def lookups(self, request, model_admin):
            return [("live", "Live"), ("test", "Test")]

        def queryset(self, request, queryset):
            if self.value() in ("live", "test"):
                return queryset.filter(**{field: self.value() == "live"})
            return queryset

    return ModeFilter
