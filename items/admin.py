from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from items import emails, orders
from items.models import (
    GradeCode,
    GuidanceUpdate,
    ImportMapping,
    ImportRow,
    Item,
    ItemActivity,
    ItemImage,
    Order,
    PriceGuidance,
    Reconciliation,
    ReconciliationItem,
    StockImport,
    StoredImage,
)
from rheo.admin import ReadOnlyAdmin, ReadOnlyInline, act_on_each, mode_filter, titled
from rheo.formatting import sek


class ItemImageInline(ReadOnlyInline):
    """Compact: a thumbnail, where it came from, and how its download went."""

    model = ItemImage
    fields = ["position", "thumbnail", "source", "status", "attempts", "error_code"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("stored")

    @admin.display(description="Image")
    def thumbnail(self, image):
        if image.stored is None:
            return "—"
        return format_html(
            '<a href="{}"><img class="rheo-thumb" src="{}" alt="" width="80" height="60"></a>',
            image.stored.full_url,
            image.stored.thumbnail_url,
        )

    @admin.display(description="Source URL")
    def source(self, image):
        return format_html(
            '<a href="{}" title="{}">{}</a>',
            image.source_url,
            image.source_url,
            Truncator(image.source_url).chars(48),
        )


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
        "short_title",
        "partner",
        "mode",
        "status",
        "price_sek",
        "tradera_status",
        "updated_at",
    ]
    list_filter = [
        ("status", titled("Rheo status")),
        ("tradera_listing__status", titled("Tradera status")),
        mode_filter(),
        DeletedFilter,
        "partner",
    ]
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
        ("Relisting", {"fields": ["relist", "relist_steps", "relist_base_price"]}),
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

    @admin.display(description="Title", ordering="title")
    def short_title(self, item):
        return Truncator(item.title).chars(60)

    @admin.display(description="Price", ordering="price")
    def price_sek(self, item):
        return sek(item.price)

    @admin.display(description="Mode", ordering="livemode")
    def mode(self, item):
        return "live" if item.livemode else "test"

    @admin.display(description="Tradera", ordering="tradera_listing__status")
    def tradera_status(self, item):
        listing = getattr(item, "tradera_listing", None)
        return listing.get_status_display() if listing else "—"


@admin.register(Reconciliation)
class ReconciliationAdmin(ReadOnlyAdmin):
    """Partners' reconciliations: the preview's counts and the apply's progress."""

    list_display = [
        "id",
        "partner",
        "livemode",
        "status",
        "created_at",
        "absent_count",
        "guard_limit",
        "forced",
        "done_count",
        "delisted_count",
        "skipped_count",
    ]
    list_filter = ["status", "livemode"]
    list_select_related = ["partner"]


@admin.register(ReconciliationItem)
class ReconciliationItemAdmin(ReadOnlyAdmin):
    """The items a preview found absent, and what the apply did with each."""

    list_display = ["reconciliation", "item", "outcome"]
    list_filter = ["outcome"]
    list_select_related = ["reconciliation", "item"]
    raw_id_fields = ["reconciliation", "item"]
    show_full_result_count = False


@admin.register(StockImport)
class StockImportAdmin(ReadOnlyAdmin):
    """Partners' stock imports from the dashboard: the file, its phase and its counts."""

    list_display = [
        "id",
        "partner",
        "livemode",
        "status",
        "filename",
        "row_count",
        "created_at",
        "check_counts",
        "result_counts",
    ]
    list_filter = ["status", "livemode"]
    list_select_related = ["partner"]


@admin.register(ImportRow)
class ImportRowAdmin(ReadOnlyAdmin):
    """The rows of the imported files, with what the check and the import made of each."""

    list_display = ["stock_import", "number", "external_id", "check_outcome", "outcome"]
    list_filter = ["outcome"]
    list_select_related = ["stock_import"]
    raw_id_fields = ["stock_import"]
    show_full_result_count = False


@admin.register(ImportMapping)
class ImportMappingAdmin(ReadOnlyAdmin):
    """Each partner's remembered column mapping."""

    list_display = ["partner", "updated_at"]
    list_select_related = ["partner"]


@admin.register(StoredImage)
class StoredImageAdmin(ReadOnlyAdmin):
    """Hosted images, each stored once whoever sent the same bytes."""

    list_display = ["full", "width", "height", "created_at"]
    search_fields = ["=digest", "full"]


@admin.register(GradeCode)
class GradeCodeAdmin(ReadOnlyAdmin):
    """Partners' grade scales (they edit them in the dashboard and the Management API)."""

    list_display = ["partner", "code", "canonical", "buyer_text", "position"]
    list_filter = ["canonical"]
    search_fields = ["partner__name", "code"]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    """Orders are placed by buyers in the marketplace; staff move them along with the
    actions (each a service call, refused with a message where the order's state does
    not allow it), never by editing fields."""

    list_display = [
        "reference",
        "status",
        "item_link",
        "partner",
        "buyer_name",
        "buyer_email",
        "total",
        "created_at",
    ]
    list_filter = ["status", "created_at", "item__partner"]
    search_fields = [
        "reference",
        "buyer_name",
        "buyer_email",
        "item__external_id",
        "item_title",
        "=id",
    ]
    list_select_related = ["item__partner"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    actions = ["mark_paid", "mark_shipped", "mark_completed", "cancel"]
    fieldsets = [
        (None, {"fields": ["reference", "status", "item_link", "partner", "order_page"]}),
        ("Buyer", {"fields": ["buyer_name", "buyer_email", "buyer_phone", "address"]}),
        ("Amounts", {"fields": ["item_title", "price", "shipping_cost", "total", "currency"]}),
        (
            "History",
            {
                "fields": [
                    "created_at",
                    "paid_at",
                    "shipped_at",
                    "completed_at",
                    "cancelled_at",
                    "cancel_reason",
                ]
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [name for _, options in self.fieldsets for name in options["fields"]]

    def has_move_permission(self, request) -> bool:
        """The actions: staff allowed to change orders."""
        return request.user.has_perm("items.change_order")

    @admin.display(description="Item", ordering="item__external_id")
    def item_link(self, order):
        url = reverse("admin:items_item_change", args=[order.item_id])
        return format_html('<a href="{}">{}</a>', url, order.item.external_id)

    @admin.display(description="Partner", ordering="item__partner__name")
    def partner(self, order):
        return order.item.partner

    @admin.display(description="Total")
    def total(self, order):
        return sek(order.total)

    @admin.display(description="Address")
    def address(self, order):
        lines = [order.address_line1, order.address_line2, f"{order.postal_code} {order.city}"]
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines if line))

    @admin.display(description="The buyer's page")
    def order_page(self, order):
        url = emails.order_page_url(order)
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, url)

    @admin.action(description="Mark paid", permissions=["move"])
    def mark_paid(self, request, queryset):
        self._move(request, queryset, orders.mark_order_paid, Order.Status.PAID, "marked paid")

    @admin.action(description="Mark shipped", permissions=["move"])
    def mark_shipped(self, request, queryset):
        self._move(
            request, queryset, orders.mark_order_shipped, Order.Status.SHIPPED, "marked shipped"
        )

    @admin.action(
        description="Complete (the item is sold on Rheo; its Tradera auction ends)",
        permissions=["move"],
    )
    def mark_completed(self, request, queryset):
        self._move(request, queryset, orders.complete_order, Order.Status.COMPLETED, "completed")

    @admin.action(description="Cancel (the item is listed again)", permissions=["move"])
    def cancel(self, request, queryset):
        self._move(request, queryset, orders.cancel_order, Order.Status.CANCELLED, "cancelled")

    def _move(self, request, queryset, service, status: str, done: str) -> None:
        def move(order):
            if order.status == status:  # running an action twice is harmless
                return False
            service(order_id=order.pk)
            return True

        act_on_each(
            self,
            request,
            queryset.order_by("created_at"),
            move,
            done=done,
            unchanged=f"already {status}",
        )


@admin.register(PriceGuidance)
class PriceGuidanceAdmin(ReadOnlyAdmin):
    """Price guidance as computed (tradera.guidance): every key with a sale, also those
    below the thresholds, which partners never see."""

    list_display = ["level", "key", "sales", "sellers", "unsold", "median_price",
                    "p25_price", "p75_price", "median_days", "refreshed_at"]  # fmt: skip
    list_filter = ["level"]
    search_fields = ["key"]


@admin.register(GuidanceUpdate)
class GuidanceUpdateAdmin(ReadOnlyAdmin):
    """Sales whose guidance keys are still to be recomputed (normally gone in seconds)."""

    list_display = ["item", "due_at", "locked_until", "nudged_at"]
