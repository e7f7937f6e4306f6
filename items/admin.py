from django.contrib import admin

from items.models import Item, ItemImage, Order
from rheo.admin import ReadOnlyAdmin, ReadOnlyInline


class ItemImageInline(ReadOnlyInline):
    model = ItemImage
    fields = ["position", "source_url", "status", "stored", "attempts", "error_code"]


@admin.register(Item)
class ItemAdmin(ReadOnlyAdmin):
    """Read-only: items change through the Integration API and the item services."""

    inlines = [ItemImageInline]

    list_display = ["external_id", "title", "partner", "livemode", "status", "price", "updated_at"]
    list_filter = ["status", "livemode"]
    search_fields = ["external_id", "title", "id", "partner__name"]
    list_select_related = ["partner"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "item", "status", "price", "created_at"]
    list_filter = ["status"]
    search_fields = ["id", "item__external_id"]
    list_select_related = ["item"]
    readonly_fields = ["item", "status", "price"]

    def has_add_permission(self, request):
        return False
