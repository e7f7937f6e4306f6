from django.urls import path

from integration import batch, events, listing, reconciliations, views

urlpatterns = [
    path("items", listing.ItemListView.as_view()),
    # Before items/<external_id>: POST is the batch, other methods the item named "batch".
    path("items/batch", batch.ItemBatchView.as_view(), {"external_id": "batch"}),
    path("items/<str:external_id>", views.ItemView.as_view()),
    path("items/<str:external_id>/price", views.ItemPriceView.as_view()),
    path("items/<str:external_id>/status", views.ItemStatusView.as_view()),
    path("items/<str:external_id>/simulate", views.ItemSimulateView.as_view()),
    path("events", events.EventFeedView.as_view()),
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
