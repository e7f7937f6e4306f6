from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from portal.dashboard import (
    analytics,
    events,
    forms,
    grades,
    imports,
    integration,
    reconciliations,
    views,
)

app_name = "dashboard"


def _auth(view, template: str, **options):
    return view.as_view(template_name=f"dashboard/auth/{template}.html", **options)


urlpatterns = [
    path("", views.overview, name="overview"),
    path("mode", views.switch_mode, name="switch-mode"),
    path("items/", views.item_list, name="items"),
    path("items/<uuid:item_id>/", views.item_detail, name="item"),
    path("items/reconcile/", reconciliations.new_reconciliation, name="reconcile"),
    path(
        "items/reconcile/<uuid:reconciliation_id>/",
        reconciliations.reconciliation_detail,
        name="reconciliation",
    ),
    path(
        "items/reconcile/<uuid:reconciliation_id>/apply",
        reconciliations.apply_reconciliation,
        name="apply-reconciliation",
    ),
    path("items/grades/", grades.grade_scale, name="grade-scale"),
    path("items/import/", imports.new_import, name="import"),
    path("items/import/<uuid:import_id>/", imports.import_detail, name="stock-import"),
    path("items/import/<uuid:import_id>/check", imports.check_import, name="check-import"),
    path("items/import/<uuid:import_id>/start", imports.start_import, name="start-import"),
    path("items/import/<uuid:import_id>/progress", imports.import_progress, name="import-progress"),
    path(
        "items/import/<uuid:import_id>/errors.csv",
        imports.import_errors_csv,
        name="import-errors-csv",
    ),
    path(
        "items/import/<uuid:import_id>/results.csv",
        imports.import_results_csv,
        name="import-results-csv",
    ),
    path("analytics/", analytics.analytics, name="analytics"),
    path("analytics/<slug:table>.csv", analytics.analytics_csv, name="analytics-csv"),
    path("subscription/", analytics.subscription, name="subscription"),
    path("subscription/change", analytics.change_subscription, name="change-subscription"),
    path("integration/", integration.integration, name="integration"),
    path("integration/keys", integration.create_key, name="create-key"),
    path("integration/keys/<uuid:key_id>/revoke", integration.revoke_key, name="revoke-key"),
    path("integration/webhooks/", integration.webhook_settings, name="webhooks"),
    path("integration/relisting/", integration.relist_rules, name="relist-rules"),
    path("integration/webhooks/rotate", integration.rotate_webhook_secret, name="rotate-secret"),
    path("integration/webhooks/test", integration.send_test_webhook, name="test-webhook"),
    path("integration/deliveries/", integration.delivery_list, name="deliveries"),
    path(
        "integration/deliveries/<uuid:delivery_id>/",
        integration.delivery_detail,
        name="delivery",
    ),
    path(
        "integration/deliveries/<uuid:delivery_id>/redeliver",
        integration.redeliver,
        name="redeliver",
    ),
    path("integration/events/<str:event_id>/send", integration.send_event, name="send-event"),
    path("integration/events/", events.event_list, name="events"),
    path("integration/events/<str:event_id>/", events.event_detail, name="event"),
    path("integration/events/<str:event_id>/replay", events.replay_from, name="replay-from"),
    path("integration/replays/<uuid:replay_id>/", events.replay_detail, name="event-replay"),
    path("integration/tradera/connect", integration.connect_tradera, name="connect-tradera"),
    path("integration/tradera/accept", integration.tradera_accepted, name="tradera-accept"),
    # Django's auth views, with the dashboard's templates.
    path(
        "login/",
        _auth(auth_views.LoginView, "login", authentication_form=forms.PartnerLoginForm),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="dashboard:login"), name="logout"),
    path(
        "password-reset/",
        _auth(
            auth_views.PasswordResetView,
            "password_reset",
            email_template_name="dashboard/auth/password_reset_email.txt",
            subject_template_name="dashboard/auth/password_reset_subject.txt",
            success_url=reverse_lazy("dashboard:password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        _auth(auth_views.PasswordResetDoneView, "password_reset_done"),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        _auth(
            auth_views.PasswordResetConfirmView,
            "password_reset_confirm",
            success_url=reverse_lazy("dashboard:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        _auth(auth_views.PasswordResetCompleteView, "password_reset_complete"),
        name="password_reset_complete",
    ),
]
