from django.urls import path

from integration import listing, reconciliations, views

urlpatterns = [
    path("items", listing.ItemListView.as_view()),
    path("items/<str:external_id>", views.ItemView.as_view()),
    path("items/<str:external_id>/price", views.ItemPriceView.as_view()),
    path("items/<str:external_id>/status", views.ItemStatusView.as_view()),
    path("items/<str:external_id>/simulate", views.ItemSimulateView.as_view()),
    path("reconciliations", reconciliations.ReconciliationListView.as_view()),
    path(
        "reconciliations/<uuid:reconciliation_id>",
        reconciliations.ReconciliationView.as_view(),
    ),
    path(
        "reconciliations/<uuid:reconciliation_id>/apply",
        reconciliations.ReconciliationApplyView.as_view(),
    ),
]
