from django.urls import path

from integration import listing, views

urlpatterns = [
    path("items", listing.ItemListView.as_view()),
    path("items/<str:external_id>", views.ItemView.as_view()),
    path("items/<str:external_id>/price", views.ItemPriceView.as_view()),
    path("items/<str:external_id>/status", views.ItemStatusView.as_view()),
    path("items/<str:external_id>/simulate", views.ItemSimulateView.as_view()),
]
