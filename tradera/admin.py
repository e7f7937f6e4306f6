from django.contrib import admin

from tradera.models import TraderaListing


@admin.register(TraderaListing)
class TraderaListingAdmin(admin.ModelAdmin):
    list_display = ["ad_id", "item", "status", "updated_at"]
    list_filter = ["status"]
    search_fields = ["ad_id", "item__external_id"]
    readonly_fields = ["item", "ad_id", "status"]

    def has_add_permission(self, request):
        return False
