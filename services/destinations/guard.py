"""Where destinations may send: with private networks refused, a request whose host resolves
to a loopback, private, link-local (cloud metadata), shared or reserved address is refused
before it connects, so that a webhook URL cannot reach the installation's own network.

Every address the host resolves to must be public. The check runs per request, at the time
of sending (a name that later resolves elsewhere is checked again); the connection that
follows resolves the name once more, so a resolver that answers differently within that
instant is the limit of this guard, not a way around a hostile literal address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx

from gurulu.common.settings import Settings


class PrivateAddress(httpx.ConnectError):
    """The destination's host is on a network this installation does not send to."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id is not the address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class PublicOnlyTransport(httpx.AsyncHTTPTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except socket.gaierror as error:
            raise httpx.ConnectError(f"cannot resolve {host}: {error}", request=request) from None
        for *_, sockaddr in found:
            address = str(sockaddr[0])
            if not is_public(address):
                raise PrivateAddress(
                    f"{host} resolves to {address}, a private or reserved address; this"
                    " installation sends only to public addresses"
                    " (GURULU_DESTINATION_PRIVATE_NETWORKS)",
                    request=request,
                )
        return await super().handle_async_request(request)


def client(settings: Settings) -> httpx.AsyncClient:
    """The HTTP client the destinations send with."""
    transport = (
        httpx.AsyncHTTPTransport()
        if settings.destinations_may_reach_private_networks
        else PublicOnlyTransport()
    )
    return httpx.AsyncClient(transport=transport, headers={"User-Agent": "gurulu-destinations"})
