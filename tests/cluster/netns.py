"""Hosts on one machine: network namespaces joined by veth pairs, and a forwarder to the machine's services.

The layout `make test-cluster` builds (addresses inside the namespaces only):

    services  10.213.0.1   bridge of the cluster; MariaDB, RabbitMQ and Redis of this machine are
                           forwarded there (see `main` below), moto S3 runs there
    web       10.213.0.2   gunicorn and beat
    w1, w2    10.213.0.3/4 each a `fast` and a `slow` Celery worker

Each host is a namespace with one veth pair whose other end is on the bridge in the services
namespace, so `ip -n <host> link set eth0 down` cuts that host off from everything, as a pulled
cable would. Every process of a host runs in its own UTS namespace with the host's name, so
`socket.gethostname()` (and so the task records' `claimed_by`, and Celery's `%h`) says which host
ran it.

Run as a program, this module is the forwarder: `python netns.py NAMESPACE ADDRESS PORT...` listens
on ADDRESS:PORT inside NAMESPACE and relays each connection to 127.0.0.1:PORT of the root
namespace, where the machine's servers listen on loopback only.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import subprocess
import sys
import threading

CLONE_NEWNET = 0x40000000
SUBNET = "10.213.0"
SERVICES_ADDRESS = f"{SUBNET}.1"
# The database's port gets the keepalive a database host should have
# (MariaDB's tcp_keepalive_time, or the host's net.ipv4.tcp_keepalive_*): a
# vanished client's connection, and the row locks its open transaction holds,
# are dropped within seconds instead of after the kernel's two hours. The
# broker's port gets none: RabbitMQ's own heartbeats must be what notices.
KEEPALIVE_PORTS = {3306}
KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_PROBES = 5, 2, 3

_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def setns(path: str) -> None:
    """Move the calling thread into the network namespace at `path`."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns({path}): {os.strerror(errno)}")
    finally:
        os.close(fd)


def netns_path(name: str) -> str:
    return f"/var/run/netns/{name}"


def in_netns(name: str, function, *args, **kwargs):
    """Call `function` in a thread inside namespace `name` (its sockets are that namespace's) and return its result."""
    outcome: dict = {}

    def run() -> None:
        try:
            setns(netns_path(name))
            outcome["value"] = function(*args, **kwargs)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name=f"netns-{name}")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class Cluster:
    """The namespaces and links of one run, named with `prefix`; `delete` removes every one of them."""

    def __init__(self, prefix: str, hosts: list[str]):
        self.prefix = prefix
        self.services = f"{prefix}-services"
        self.hosts = {host: f"{prefix}-{host}" for host in hosts}
        self.addresses = {host: f"{SUBNET}.{index + 2}" for index, host in enumerate(hosts)}

    def namespaces(self) -> list[str]:
        return [self.services, *self.hosts.values()]

    def create(self) -> None:
        for namespace in self.namespaces():
            ip("netns", "add", namespace)
            ip("-n", namespace, "link", "set", "lo", "up")
        ip("-n", self.services, "link", "add", "br0", "type", "bridge")
        ip("-n", self.services, "addr", "add", f"{SERVICES_ADDRESS}/24", "dev", "br0")
        ip("-n", self.services, "link", "set", "br0", "up")
        for index, (host, namespace) in enumerate(self.hosts.items()):
            # Created in the root namespace under unique names, then moved: names
            # in the root namespace are shared with everything else on the machine.
            outer, inner = f"{self.prefix}b{index}", f"{self.prefix}h{index}"
            ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            ip("link", "set", outer, "netns", self.services)
            ip("link", "set", inner, "netns", namespace)
            ip("-n", namespace, "link", "set", inner, "name", "eth0")
            ip("-n", namespace, "addr", "add", f"{self.addresses[host]}/24", "dev", "eth0")
            ip("-n", namespace, "link", "set", "eth0", "up")
            ip("-n", self.services, "link", "set", outer, "master", "br0")
            ip("-n", self.services, "link", "set", outer, "up")

    def link(self, host: str, *, up: bool) -> None:
        """Plug or pull the host's cable."""
        ip("-n", self.hosts[host], "link", "set", "eth0", "up" if up else "down")

    def command(self, host: str | None, args: list[str]) -> list[str]:
        """`args` run on `host` (None: the services host), under the host's own name."""
        namespace = self.hosts[host] if host else self.services
        name = host or "services"
        return [
            "ip",
            "netns",
            "exec",
            namespace,
            "unshare",
            "--uts",
            "sh",
            "-c",
            f'hostname {name} && exec "$@"',
            "sh",
            *args,
        ]

    def delete(self) -> None:
        for namespace in self.namespaces():
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


def stale_namespaces(marker: str) -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split("\n")
    return [line.split()[0] for line in listed if line.strip() and marker in line.split()[0]]


def _tune(sock: socket.socket, port: int) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if port in KEEPALIVE_PORTS:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPALIVE_IDLE_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_INTERVAL_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_PROBES)
        # Also when data is outstanding (keepalive only probes an idle connection).
        timeout_ms = (KEEPALIVE_IDLE_S + KEEPALIVE_INTERVAL_S * KEEPALIVE_PROBES) * 1000
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, timeout_ms)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()


async def _relay(port: int, client_reader, client_writer) -> None:
    _tune(client_writer.get_extra_info("socket"), port)
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        client_writer.close()
        return
    legs = [
        asyncio.ensure_future(_pipe(client_reader, upstream_writer)),
        asyncio.ensure_future(_pipe(upstream_reader, client_writer)),
    ]
    # Either side closing (or failing) ends both: the database or broker sees
    # the close of a client that vanished, and the client that of a server.
    await asyncio.wait(legs, return_when=asyncio.FIRST_COMPLETED)
    for leg in legs:
        leg.cancel()
    for writer in (upstream_writer, client_writer):
        writer.transport.abort()


async def _serve(listeners: dict[int, socket.socket]) -> None:
    servers = [
        await asyncio.start_server(lambda r, w, port=port: _relay(port, r, w), sock=sock)
        for port, sock in listeners.items()
    ]
    print("forwarding", " ".join(str(port) for port in listeners), flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


def main(namespace: str, address: str, ports: list[int]) -> None:
    root = os.open("/proc/self/ns/net", os.O_RDONLY)
    setns(netns_path(namespace))
    listeners = {}
    for port in ports:
        # A socket stays in the namespace it was created in.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(256)
        listeners[port] = sock
    if _libc.setns(root, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns back to the root namespace")
    os.close(root)
    asyncio.run(_serve(listeners))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], [int(port) for port in sys.argv[3:]])
