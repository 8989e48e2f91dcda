"""Which network addresses citebot may fetch from, and name lookups with a deadline.

Whatever citebot fetches can end up quoted to anyone on Discord, so a feed
entry or a redirect must not make it read a page only this machine can reach
(a router's admin page, ``http://127.0.0.1:8000``, the cloud metadata service
at 169.254.169.254). Addresses are judged after the name is resolved, on the
address that is then connected to (see ``http_transport``), so a name cannot
resolve to a public address for the check and to a private one for the
connection.
"""

from __future__ import annotations

import socket
import threading
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address

IPAddress = IPv4Address | IPv6Address

_NAT64 = IPv6Network("64:ff9b::/96")


def address_problem(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be fetched ("a loopback address"), or None for a public one.

    IPv6 forms that embed an IPv4 address (``::ffff:127.0.0.1``, 6to4, NAT64)
    are judged by the IPv4 address inside.
    """
    if isinstance(ip, IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in _NAT64:
            inner = IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return address_problem(inner)
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_private or ip.is_reserved or not ip.is_global:
        return "a private address"
    return None


def resolve(host: str, port: int, timeout: float | None) -> list[IPAddress]:
    """Addresses of ``host`` in the resolver's order; ``TimeoutError`` after ``timeout``.

    ``getaddrinfo`` has no timeout of its own and can block for many seconds on
    a dead DNS server, so the lookup runs in a daemon thread that is abandoned
    when the fetch's deadline passes. A literal address needs no lookup.
    """
    try:
        return [ip_address(host)]
    except ValueError:
        pass
    outcome: dict[str, object] = {}
    done = threading.Event()

    def lookup() -> None:
        try:
            outcome["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as err:
            outcome["error"] = err
        finally:
            done.set()

    threading.Thread(target=lookup, name="citebot-dns", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"looking up {host} timed out")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in outcome["infos"]:  # type: ignore[attr-defined]
        ip = ip_address(sockaddr[0])
        if ip not in found:
            found.append(ip)
    return found
