"""The marketplace's forms: the front page's search, and a buyer's order. Buyers read
Swedish."""

import re

from django import forms

from items.orders import Buyer
from items.selectors import SORTS, MarketSearch

# The condition grades of docs/integration-api.md, as buyers read them: (name, what it means).
CONDITION_GRADES = {
    "A": ("Mycket gott skick", "lite eller inget slitage"),
    "B": ("Gott skick", "normalt slitage för åldern, fullt fungerande"),
    "C": ("Godtagbart skick", "synligt slitage eller kosmetiska skador, fungerande"),
    "D": ("För reparation eller delar", "skadad eller otestad"),
}
SORT_LABELS = {"newest": "Nyast först", "price_asc": "Lägsta pris", "price_desc": "Högsta pris"}


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Sök",
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "OE-nummer, märke, modell eller del"}
        ),
    )
    grade = forms.ChoiceField(
        label="Skick",
        required=False,
        choices=[("", "Alla"), *((g, f"{g}: {name}") for g, (name, _) in CONDITION_GRADES.items())],
    )
    min_price = forms.DecimalField(
        label="Pris från", required=False, min_value=0, max_digits=10, decimal_places=2
    )
    max_price = forms.DecimalField(
        label="Pris till", required=False, min_value=0, max_digits=10, decimal_places=2
    )
    sort = forms.ChoiceField(
        label="Sortera", required=False, choices=[(key, SORT_LABELS[key]) for key in SORTS]
    )

    def clean(self):
        super().clean()
        data = self.cleaned_data
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            self.add_error("max_price", "Pris till måste vara minst lika högt som pris från.")
        return data

    def to_search(self) -> MarketSearch:
        """What the buyer asked for; a field that is not valid is left out (and its error
        shown), the rest still applies."""
        self.is_valid()
        data = self.cleaned_data
        return MarketSearch(
            text=data.get("q") or "",
            grade=data.get("grade") or "",
            min_price=data.get("min_price"),
            max_price=data.get("max_price"),
            sort=data.get("sort") or "newest",
        )


POSTAL_CODE = re.compile(r"^(\d{3})\s?(\d{2})$")
PHONE = re.compile(r"^\+?[\d\s()-]{6,20}$")


class OrderForm(forms.Form):
    name = forms.CharField(label="Namn", max_length=200)
    email = forms.EmailField(label="E-post")
    phone = forms.CharField(label="Telefon (valfritt)", max_length=40, required=False)
    address_line1 = forms.CharField(label="Gatuadress", max_length=200)
    address_line2 = forms.CharField(
        label="c/o, lägenhet (valfritt)", max_length=200, required=False
    )
    postal_code = forms.CharField(label="Postnummer", max_length=10)
    city = forms.CharField(label="Ort", max_length=100)
    # The price with shipping the buyer saw: the order is refused if it has changed since.
    total = forms.DecimalField(
        widget=forms.HiddenInput, required=False, max_digits=14, decimal_places=2
    )

    def clean_postal_code(self):
        match = POSTAL_CODE.match(self.cleaned_data["postal_code"].strip())
        if not match:
            raise forms.ValidationError(
                "Ange ett svenskt postnummer med fem siffror, t.ex. 411 05."
            )
        return f"{match[1]} {match[2]}"

    def clean_phone(self):
        phone = self.cleaned_data["phone"].strip()
        if phone and not PHONE.match(phone):
            raise forms.ValidationError("Ange ett telefonnummer med siffror, t.ex. 070-123 45 67.")
        return phone

    def to_buyer(self) -> Buyer:
        data = self.cleaned_data
        return Buyer(
            name=data["name"],
            email=data["email"],
            phone=data["phone"],
            address_line1=data["address_line1"],
            address_line2=data["address_line2"],
            postal_code=data["postal_code"],
            city=data["city"],
        )
