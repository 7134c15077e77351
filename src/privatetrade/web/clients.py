"""Who is calling, by address: ``X-Forwarded-For`` counts only from trusted proxies.

The login limits key on the client's address. Behind a reverse proxy every request
comes from the proxy, so its ``X-Forwarded-For`` names the client; from anyone else
that header is a lie waiting to happen (a new "client" per request would escape every
limit). ``trusted_proxies`` (addresses or networks) says whose header to believe; the
client is the rightmost address in the header that is not itself a trusted proxy,
the same rule uvicorn applies with ``forwarded_allow_ips`` (set from the same setting
by ``privatetrade serve``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import cache

from fastapi import Request

__all__ = ["TrustedProxies", "client_address", "parse_network"]

_UNKNOWN = "unknown"
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_network(entry: str) -> _Network:
    """An address (``10.0.0.5``) or network (``10.0.0.0/8``) as a network.

    Raises:
        ValueError: Neither.
    """
    return ipaddress.ip_network(entry.strip(), strict=False)


def _address(text: str) -> _Address | None:
    """An address from a header entry (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``), or None."""
    value = text.strip()
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else value
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` is believed."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: tuple[_Network, ...] = tuple(parse_network(entry) for entry in entries)

    def trusts(self, address: _Address | None) -> bool:
        """True when ``address`` is one of the trusted proxies."""
        return address is not None and any(address in network for network in self.networks)

    def client(self, peer: str | None, forwarded_for: Sequence[str]) -> str:
        """The client's address from the direct peer and the ``X-Forwarded-For`` values."""
        if peer is None:
            return _UNKNOWN
        if not self.networks or not self.trusts(_address(peer)):
            return peer
        hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
        client = peer
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                break  # not an address: believe nothing further left
            client = str(address)
            if not self.trusts(address):
                break
        return client


@cache
def _trusted(entries: tuple[str, ...]) -> TrustedProxies:
    return TrustedProxies(entries)


def client_address(request: Request, trusted_proxies: Sequence[str]) -> str:
    """The address the request comes from, believing ``X-Forwarded-For`` only from a proxy."""
    peer = request.client.host if request.client else None
    forwarded = request.headers.getlist("x-forwarded-for")
    return _trusted(tuple(trusted_proxies)).client(peer, forwarded)
