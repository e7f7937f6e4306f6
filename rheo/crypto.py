"""Secrets Rheo must read back (webhook signing secrets, Tradera tokens), encrypted at rest.

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`. RHEO_ENCRYPTION_KEYS is a
comma-separated list of Fernet keys: the first encrypts, all decrypt, so a key can be
rotated by putting the new one first and re-saving. Without it a key is derived from
SECRET_KEY, which then must not change while encrypted rows exist.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@cache
def _fernet() -> MultiFernet:
    keys = list(settings.RHEO_ENCRYPTION_KEYS)
    if not keys:
        derived = hashlib.sha256(b"rheo-encryption-key:" + settings.SECRET_KEY.encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("Cannot decrypt: wrong or missing RHEO_ENCRYPTION_KEYS.") from exc


class EncryptedTextField(models.TextField):
    """A text column holding Fernet ciphertext; Python code sees the plaintext."""

    def from_db_value(self, value, expression, connection):
        return None if value is None else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value)
