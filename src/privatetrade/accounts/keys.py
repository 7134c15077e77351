"""The server's secret key: configured, or generated once for a loopback-only server."""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

from privatetrade.errors import ConfigurationError

__all__ = ["is_loopback", "resolve_secret_key"]

_MIN_KEY_LENGTH = 32
_KEY_FILE = "secret_key"


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_secret_key(configured: str | None, host: str, data_dir: Path) -> str:
    """Return the secret key that keys stored hashes of sessions and tokens.

    A configured key must have at least 32 characters. Without one, a server bound to
    loopback generates a key once and keeps it in the data directory (mode 0600); a
    server reachable from other machines refuses to start.

    Raises:
        ConfigurationError: Non-loopback bind without a key, or a key too short.
    """
    if configured:
        if len(configured) < _MIN_KEY_LENGTH:
            raise ConfigurationError(
                f"PRIVATETRADE_SECRET_KEY needs at least {_MIN_KEY_LENGTH} characters",
                field="secret_key",
            )
        return configured
    if not is_loopback(host):
        raise ConfigurationError(
            f"binding to {host} makes privatetrade reachable from other machines: set "
            "PRIVATETRADE_SECRET_KEY to a random string of at least 32 characters "
            '(e.g. python -c "import secrets; print(secrets.token_urlsafe(48))")',
            field="secret_key",
        )
    return _local_key(data_dir)


def _local_key(data_dir: Path) -> str:
    path = data_dir / _KEY_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key)
    return key
