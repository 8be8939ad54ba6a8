"""The API as a client sees it: token-authenticated requests to the real web server, timed."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

# A request that takes longer than this is a failure of the run, not a slow figure.
REQUEST_TIMEOUT_S = 60


class ApiClient:
    """One keep-alive connection with a token, as a browser tab or a script would hold."""

    def __init__(self, base_url: str, token: str):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def request(self, method: str, path: str, **kwargs) -> tuple[requests.Response, float]:
        """The answer and how long it took in milliseconds, body read included."""
        started = time.perf_counter()
        answer = self.session.request(method, f"{self.base_url}{path}", timeout=REQUEST_TIMEOUT_S, **kwargs)
        _ = answer.content
        return answer, (time.perf_counter() - started) * 1000

    def report_create(
        self, *, name: str, player_ids: list[int], sections: list[str] | None = None
    ) -> tuple[dict, float]:
        body: dict = {"name": name, "players": player_ids}
        if sections is not None:
            body["sections"] = sections
        answer, ms = self.request("POST", "/api/reports/", json=body)
        if answer.status_code != 202:
            raise RuntimeError(f"POST /api/reports/ answered {answer.status_code}: {answer.text[:500]}")
        return answer.json(), ms

    def report_data(self, report_id: str) -> tuple[requests.Response, float]:
        return self.request("GET", f"/api/reports/{report_id}/data/")


@dataclass
class PollResult:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


async def _get(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, dict[str, str]]:
    """One HTTP/1.1 keep-alive exchange: the status and headers; the body is read and dropped."""
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    status = int(status_line.split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while size := int((await reader.readline()).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readline()
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers


def status_pollers(
    *, base_url: str, token: str, report_id: str, pollers: int, seconds: float, interval_s: float = 1.0
) -> PollResult:
    """`pollers` clients, each GETting the report's status every `interval_s` for `seconds`.

    Each holds its own keep-alive connection and sends If-None-Match with the
    last ETag it saw, as a browser does, so most answers are 304 while nothing
    changed. Clients start spread over the first interval, as independent
    browsers would. They run as coroutines on one event loop, not as threads:
    with 100 threads the client itself, competing for the GIL and the two
    cores with the server it measured, added tens of milliseconds to the
    slowest answers (docs/performance.md).
    """
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = f"/api/reports/{report_id}/"
    result = PollResult()

    async def poll(index: int, start: float) -> None:
        # Connected when the first request goes, as a browser does: gunicorn's threaded worker
        # gives a new connection a thread that waits for its first request.
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        etag = None
        tick = start + random.Random(index).random() * interval_s
        end = start + seconds
        try:
            while tick < end:
                delay = tick - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                request = (
                    f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Token {token}\r\n"
                    + (f"If-None-Match: {etag}\r\n" if etag else "")
                    + "Accept: application/json\r\n\r\n"
                ).encode("latin-1")
                started = time.perf_counter()
                try:
                    if connection is None:
                        connection = await asyncio.open_connection(host, port)
                    status, headers = await asyncio.wait_for(_get(*connection, request), REQUEST_TIMEOUT_S)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    result.errors.append(f"{type(exc).__name__}: {exc}")
                    if connection is not None:
                        connection[1].close()
                    connection = None
                else:
                    result.latencies_ms.append((time.perf_counter() - started) * 1000)
                    result.statuses[status] = result.statuses.get(status, 0) + 1
                    etag = headers.get("etag", etag)
                tick += interval_s
        finally:
            if connection is not None:
                connection[1].close()

    async def main() -> None:
        start = time.monotonic() + 0.5
        await asyncio.gather(*(poll(index, start) for index in range(pollers)))

    asyncio.run(main())
    return result
