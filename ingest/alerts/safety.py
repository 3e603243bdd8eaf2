"""Where alerts may be sent: http/https URLs whose host resolves only to public addresses
(unless LOGCENTER_ALERTS_ALLOW_PRIVATE), checked when a channel is saved and again at every
connection, through a pluggable resolver, so a name re-pointed at an internal address after the
check (DNS rebinding) is refused too.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Protocol
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeTarget(ValueError):
    """A channel's URL or host may not be used; the message says why (never the secret)."""


class Resolver(Protocol):
    def resolve(self, host: str) -> list[str]:
        """The addresses `host` resolves to (raises OSError when it does not resolve)."""


class SystemResolver:
    """The machine's own resolver (getaddrinfo)."""

    def resolve(self, host: str) -> list[str]:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


class DnsServerResolver:
    """Asks one DNS server (`host:port`) for A and AAAA records over UDP."""

    def __init__(self, server: str, timeout: float = 3.0) -> None:
        host, _, port = server.rpartition(":")
        self.host, self.port, self.timeout = host or server, int(port or 53), timeout

    def resolve(self, host: str) -> list[str]:
        from dnslib import QTYPE, DNSRecord

        found: list[str] = []
        for qtype in ("A", "AAAA"):
            reply = DNSRecord.question(host, qtype).send(self.host, self.port, timeout=self.timeout)
            answer = DNSRecord.parse(reply)
            found += [str(rr.rdata) for rr in answer.rr if rr.rtype in (QTYPE.A, QTYPE.AAAA)]
        if not found:
            raise OSError(f"{host}: no address")
        return found


def resolver_for(dns_server: str) -> Resolver:
    return DnsServerResolver(dns_server) if dns_server else SystemResolver()


def is_public(address: str) -> bool:
    ip: IPAddress = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_scheme(url: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """The URL's host, when its scheme is one of `schemes` and it names a host."""
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        raise UnsafeTarget(f"URL scheme must be {' or '.join(schemes)}")
    if not parts.hostname:
        raise UnsafeTarget("URL names no host")
    return parts.hostname


def safe_addresses(host: str, resolver: Resolver, allow_private: bool) -> list[str]:
    """The addresses to connect to for `host`: all of them public, or private ones allowed."""
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = resolver.resolve(host)
        except OSError as exc:
            raise UnsafeTarget(f"host {host!r} does not resolve: {exc}") from None
    if not allow_private:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise UnsafeTarget(
                f"host {host!r} is a private, loopback or link-local address ({refused[0]}); "
                "set LOGCENTER_ALERTS_ALLOW_PRIVATE=true to allow it"
            )
    return addresses
