"""The address a request comes from, for per-address limits. `X-Forwarded-For` is read only when the connection
comes from a proxy in TRUSTED_PROXIES, and then from the right: each trusted proxy appends the address it got the
request from, so the right-most address that is not a trusted proxy is the client; anything to its left was written
by the client itself and proves nothing.

Also read by the HTTP worker before Django is set up: nothing here imports Django."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """TRUSTED_PROXIES as networks (a bare address is a network of one); ValueError naming an entry that is not."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"TRUSTED_PROXIES: '{entry}' is not an IP address or network.") from None
    return tuple(networks)


def is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(meta: Mapping[str, Any], trusted: tuple[Network, ...]) -> str:
    remote = str(meta.get("REMOTE_ADDR") or "")
    if not trusted or not is_trusted(remote, trusted):
        return remote
    hops = [hop.strip() for hop in str(meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:  # not an address: the proxy did not write it
                return remote
    return hops[0] if hops else remote
