"""Strict DRF fields: a JSON number must be a number, a boolean a boolean, a string a
string. DRF's stock fields coerce ("950" → 950, "yes" → True), which hides ERP bugs."""

from decimal import Decimal

from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator


class ProhibitSurrogates(ProhibitSurrogateCharactersValidator):
    """DRF's check with its message, but the common case (no surrogate) found by UTF-8's
    own encoder in C, not by a Python loop over every character: on the PUT the loop was
    a fortieth of the request."""

    def __call__(self, value):
        try:
            str(value).encode("utf-8")
        except UnicodeEncodeError:
            super().__call__(value)


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "Must be a string."}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [
            ProhibitSurrogates() if isinstance(v, ProhibitSurrogateCharactersValidator) else v
            for v in self.validators
        ]

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictDecimalField(serializers.DecimalField):
    """A JSON number, kept exact as a Decimal; rendered back as a JSON number."""

    default_error_messages = {"invalid": "Must be a number."}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("coerce_to_string", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)

    def to_representation(self, value):
        value = Decimal(value)
        return int(value) if value == value.to_integral_value() else float(value)


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "Must be an integer."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data
