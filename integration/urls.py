from django.urls import path

from integration import views

urlpatterns = [
    path("items/<str:external_id>", views.ItemView.as_view()),
    path("items/<str:external_id>/price", views.ItemPriceView.as_view()),
    path("items/<str:external_id>/status", views.ItemStatusView.as_view()),
    path("items/<str:external_id>/simulate", views.ItemSimulateView.as_view()),
]
