# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The TCP connections open to a host's local ports, read from /proc/net/tcp and /proc/net/tcp6.

Host maintenance waits until a host taken out of its front doors' pools has
no connection left on the app's port: requests under way finish on
connections, and a connection nginx keeps open to the app (keep-alive, a
WebSocket) is one a reboot would cut. count() reads the kernel's table, no
ss or netstat needed.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Dict, Iterable, List, Tuple

ESTABLISHED = "01"
TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


def _address(text: str) -> Tuple[str, int]:
    """The (address, port) of /proc/net/tcp's hex notation (each 32-bit word in host byte order)."""
    hex_address, hex_port = text.split(":")
    # The kernel prints each 32-bit word of the address (network order in memory) as a native integer.
    words = [int(hex_address[start:start + 8], 16) for start in range(0, len(hex_address), 8)]
    packed = b"".join(struct.pack("=I", word) for word in words)
    address = ipaddress.ip_address(packed)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address), int(hex_port, 16)


def established(lines: Iterable[str], ports: Iterable[int]) -> List[Tuple[str, int, str, int]]:
    """The established connections of a /proc/net/tcp table's LINES to one of PORTS: (local, port, peer, peer port)."""
    wanted = set(ports)
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) < 4 or fields[3] != ESTABLISHED or ":" not in fields[1]:
            continue
        local, local_port = _address(fields[1])
        if local_port not in wanted:
            continue
        peer, peer_port = _address(fields[2])
        found.append((local, local_port, peer, peer_port))
    return found


def count(ports: Iterable[int], tables: Iterable[str] = TABLES) -> Dict[str, int]:
    """The established connections to PORTS on this host, by peer address."""
    ports = list(ports)
    peers: Dict[str, int] = {}
    for table in tables:
        try:
            with open(table, encoding="ascii") as handle:
                lines = handle.readlines()[1:]
        except FileNotFoundError:
            continue
        for _local, _port, peer, _peer_port in established(lines, ports):
            peers[peer] = peers.get(peer, 0) + 1
    return peers
