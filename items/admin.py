from django.contrib import admin

from items.models import Item, ItemActivity, ItemImage, Order, StoredImage
from rheo.admin import ReadOnlyAdmin, ReadOnlyInline


class ItemImageInline(ReadOnlyInline):
    model = ItemImage
    fields = ["position", "source_url", "status", "stored", "attempts", "error_code"]


class ItemActivityInline(ReadOnlyInline):
    """The item's timeline, oldest first, as the dashboard tells it."""

    model = ItemActivity
    fields = ["at", "kind", "message"]
    verbose_name_plural = "timeline"


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", "Current"), ("yes", "Deleted")]

    def queryset(self, request, queryset):
        if self.value() in ("no", "yes"):
            return queryset.filter(deleted_at__isnull=self.value() == "no")
        return queryset


@admin.register(Item)
class ItemAdmin(ReadOnlyAdmin):
    """Read-only: items change through the Integration API and the item services."""

    inlines = [ItemImageInline, ItemActivityInline]

    list_display = [
        "external_id",
        "title",
        "partner",
        "mode",
        "status",
        "price",
        "tradera_status",
        "created_at",
    ]
    list_filter = ["status", "livemode", "tradera_listing__status", DeletedFilter, "partner"]
    search_fields = ["external_id", "title", "domain__oemCode", "=id", "partner__name"]
    list_select_related = ["partner", "tradera_listing"]
    fieldsets = [
        (None, {"fields": ["id", "partner", "livemode", "external_id", "status"]}),
        (
            "Content",
            {
                "fields": [
                    "title",
                    "description",
                    "price",
                    "shipping_cost",
                    "weight_kg",
                    "currency",
                    "image_urls",
                    "domain",
                    "auto_publish_tradera",
                    "use_ai_enhancement",
                    "enhanced_title",
                    "enhanced_description",
                ]
            },
        ),
        ("Sale", {"fields": ["sold_at", "sold_platform", "sale_price"]}),
        (
            "Processing",
            {
                "fields": [
                    "processing_due_at",
                    "processing_locked_until",
                    "content_fingerprint",
                    "enhanced_fingerprint",
                ]
            },
        ),
        ("Dates", {"fields": ["created_at", "updated_at", "status_changed_at", "deleted_at"]}),
    ]

    @admin.display(description="Mode", ordering="livemode")
    def mode(self, item):
        return "live" if item.livemode else "test"

    @admin.display(description="Tradera", ordering="tradera_listing__status")
    def tradera_status(self, item):
        listing = getattr(item, "tradera_listing", None)
        return listing.get_status_display() if listing else "—"


@admin.register(StoredImage)
class StoredImageAdmin(ReadOnlyAdmin):
    """Hosted images, each stored once whoever sent the same bytes."""

    list_display = ["full", "width", "height", "created_at"]
    search_fields = ["=digest", "full"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "item", "status", "price", "created_at"]
    list_filter = ["status"]
    search_fields = ["id", "item__external_id"]
    list_select_related = ["item"]
    readonly_fields = ["item", "status", "price"]

    def has_add_permission(self, request):
        return False
