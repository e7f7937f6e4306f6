"""The public marketplace, at the site's root (see rheo/urls.py)."""

from django.urls import path

from items import views

app_name = "market"

urlpatterns = [
    path("", views.market_index, name="index"),
    path("parts/<uuid:item_id>/", views.item_page, name="item"),
    path("parts/<uuid:item_id>/order/", views.place_order, name="place-order"),
    path("orders/<slug:access_key>/", views.order_page, name="order"),
]
