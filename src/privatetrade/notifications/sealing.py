"""Channel secrets encrypted at rest (Fernet: AES-128-CBC with an HMAC-SHA256 tag).

The key is ``PRIVATETRADE_NOTIFICATION_KEY`` (a Fernet key) when set, else derived from
the server's secret key, so the database alone never reveals a webhook URL or token.
Changing the key makes stored channels unreadable: their deliveries fail with
``the channel's secret cannot be read`` until they are created again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["SealBrokenError", "Sealer"]

_DERIVATION = b"privatetrade notification channels v1"


class SealBrokenError(Exception):
    """A sealed value cannot be opened with this key (the key changed, or it was altered)."""


class Sealer:
    """Seals and opens small JSON documents with one key."""

    def __init__(self, fernet_key: bytes) -> None:
        self._fernet = Fernet(fernet_key)

    @classmethod
    def from_settings(cls, notification_key: str | None, secret_key: str) -> Sealer:
        """The configured Fernet key, else one derived from the server's secret key."""
        if notification_key:
            return cls(notification_key.encode())
        digest = hmac.new(secret_key.encode(), _DERIVATION, hashlib.sha256).digest()
        return cls(base64.urlsafe_b64encode(digest))

    def seal(self, document: dict[str, Any]) -> str:
        """Encrypt ``document`` (JSON) into a token."""
        return self._fernet.encrypt(json.dumps(document).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        """Decrypt a token made by :meth:`seal`.

        Raises:
            SealBrokenError: Another key sealed it, or it was altered.
        """
        try:
            document: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError) as exc:
            raise SealBrokenError("the channel's secret cannot be read") from exc
        return document
