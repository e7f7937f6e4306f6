from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm

from items import reconciliations
from items.imports.files import MAX_FILE_BYTES as MAX_IMPORT_BYTES
from items.models import CANONICAL_GRADES, Item
from tradera.models import RelistRules, TraderaListing
from webhooks.models import SUBSCRIBABLE_EVENT_TYPES, Delivery, EventType


class PartnerLoginForm(AuthenticationForm):
    """Django's login, for users of an active partner only (staff use /admin/)."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if user.partner_id is None:
            raise forms.ValidationError(
                "This account has no partner dashboard. Rheo staff sign in at /admin/.",
                code="no_partner",
            )
        if not user.partner.is_active:
            raise forms.ValidationError(
                "Your organisation's account is disabled. Contact Rheo to reactivate it.",
                code="partner_disabled",
            )


class ItemFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *Item.Status.choices], label="Status"
    )
    tradera = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any Tradera status"),
            ("none", "Not on Tradera"),
            *TraderaListing.Status.choices,
        ],
        label="Tradera",
    )
    grade = forms.ChoiceField(
        required=False,
        choices=[("", "Any grade"), *((g, f"Grade {g}") for g in CANONICAL_GRADES)],
        label="Grade",
    )


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="For example: Recopart Production")
    mode = forms.ChoiceField(choices=[("live", "Live"), ("test", "Test")])


class WebhookForm(forms.Form):
    url = forms.URLField(max_length=2048, label="Endpoint URL", assume_scheme="https")
    enabled = forms.BooleanField(required=False, initial=True)
    event_types = forms.MultipleChoiceField(
        choices=[(t.value, t.value) for t in SUBSCRIBABLE_EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        label="Events",
    )


class RelistRulesForm(forms.ModelForm):
    """The partner's relist rules (tradera.relisting); the model's constraints refuse a
    step or a floor given twice."""

    class Meta:
        model = RelistRules
        fields = [
            "enabled",
            "max_relists",
            "step_percent",
            "step_amount",
            "floor_price",
            "floor_percent",
            "wait_hours",
            "marketplace_only_at_floor",
        ]
        labels = {
            "enabled": "Relist unsold Tradera auctions",
            "max_relists": "Relists at most",
            "step_percent": "Step down, % of the first price",
            "step_amount": "or step down, SEK",
            "floor_price": "Floor, SEK",
            "floor_percent": "or floor, % of the first price",
            "wait_hours": "Wait before relisting, hours",
            "marketplace_only_at_floor": "At the floor, stop relisting and keep the item on "
            "Rheo's marketplace only",
        }

    def clean(self):
        cleaned = super().clean() or {}
        for one, other in (("step_percent", "step_amount"), ("floor_price", "floor_percent")):
            if cleaned.get(one) is not None and cleaned.get(other) is not None:
                self.add_error(other, f"Give {self.fields[one].label} or this, not both.")
        return cleaned


class DeliveryFilterForm(forms.Form):
    event_type = forms.ChoiceField(
        required=False, choices=[("", "Any event"), *EventType.choices], label="Event"
    )
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *Delivery.Status.choices], label="Status"
    )
    external_id = forms.CharField(required=False, label="External id")


class ReconciliationForm(forms.Form):
    """The complete set of external ids: pasted, or a CSV file (which wins when both are
    given); either as the API's CSV body reads it."""

    ids = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 10}),
        label="External ids, one per line",
    )
    file = forms.FileField(required=False, label="Or a CSV file")

    def clean(self):
        data = super().clean() or {}
        upload = data.get("file")
        if upload is not None:
            if upload.size > settings.RHEO_RECONCILIATION_MAX_BODY_BYTES:
                raise forms.ValidationError(
                    f"The file is larger than {settings.RHEO_RECONCILIATION_MAX_BODY_BYTES} bytes."
                )
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError("The file is not UTF-8 text.") from None
        else:
            text = data.get("ids", "")
        data["external_ids"] = reconciliations.parse_csv_ids(text)
        if not data["external_ids"]:
            raise forms.ValidationError("Paste your external ids or choose a CSV file.")
        return data


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV or XLSX file",
        error_messages={"required": "Choose a CSV or XLSX file of your stock."},
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # Checked before the file is read: the service's own check comes after.
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1e6:.1f} MB; at most {MAX_IMPORT_BYTES // 2**20} "
                "MB. Split it into several files."
            )
        return upload


class ImportDefaultsForm(forms.Form):
    """Values for the rows that leave a field empty, as the import's defaults hold them."""

    shipping_cost = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=10,
        decimal_places=2,
        label="Shipping cost for rows without one (SEK)",
    )
    auto_publish = forms.BooleanField(
        required=False, label="Publish new items on Tradera (rows without a Tradera column)"
    )

    @classmethod
    def of(cls, defaults: dict) -> "ImportDefaultsForm":
        """The form showing an import's defaults."""
        return cls(
            initial={
                "shipping_cost": defaults.get("shippingCost"),
                "auto_publish": defaults.get("autoPublishTradera", False),
            }
        )

    def defaults(self) -> dict:
        data = self.cleaned_data
        found: dict = {"autoPublishTradera": data["auto_publish"]}
        if data["shipping_cost"] is not None:
            found["shippingCost"] = float(data["shipping_cost"])
        return found


class EventFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=255, label="Event id or external id")
    event_type = forms.ChoiceField(
        required=False, choices=[("", "Any event"), *EventType.choices], label="Event"
    )
    created_after = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    created_before = forms.DateField(
        required=False, label="Until", widget=forms.DateInput(attrs={"type": "date"})
    )
