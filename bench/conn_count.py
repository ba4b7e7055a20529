"""Counts this process's TCP connections to one host:port (Linux /proc), sampled
in the background, so the bench can report how many connections the SDK holds
open to the API server at a given concurrency."""
from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlparse
from typing import Set


def _socket_inodes() -> Set[str]:
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            out.add(link[8:-1])
    return out


def _hex_addr(ip: str, port: int, v6: bool) -> str:
    packed = socket.inet_pton(socket.AF_INET6 if v6 else socket.AF_INET, ip)
    if v6:  # /proc prints IPv6 as four host-order 32-bit words
        words = [packed[i:i + 4][::-1].hex().upper() for i in range(0, 16, 4)]
        return "".join(words) + f":{port:04X}"
    return packed[::-1].hex().upper() + f":{port:04X}"


def count_connections(host_url: str) -> int:
    u = urlparse(host_url)
    port = u.port or (443 if u.scheme == "https" else 80)
    ips = {ai[4][0] for ai in socket.getaddrinfo(u.hostname, port, proto=socket.IPPROTO_TCP)}
    wanted = set()
    for ip in ips:
        wanted.add(_hex_addr(ip, port, ":" in ip))
        if ":" not in ip:  # an IPv4 peer seen on a dual-stack socket
            wanted.add("0000000000000000FFFF0000" + socket.inet_aton(ip)[::-1].hex().upper() + f":{port:04X}")
    inodes = _socket_inodes()
    n = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            # f[2] remote address, f[3] state (01 = ESTABLISHED), f[9] inode
            if f[2] in wanted and f[3] == "01" and f[9] in inodes:
                n += 1
    return n


class ConnectionSampler:
    def __init__(self, host_url: str, every: float = 0.2):
        self.host_url, self.every = host_url, every
        self.peak = self.last = self.peak_threads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="conn-sampler")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.last = count_connections(self.host_url)
            self.peak = max(self.peak, self.last)
            self.peak_threads = max(self.peak_threads, threading.active_count())
            self._stop.wait(self.every)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.last = count_connections(self.host_url)
