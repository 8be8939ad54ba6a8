"""The API as a client sees it: token-authenticated requests to the real web server, timed."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

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

    def report_create(self, *, name: str, player_ids: list[int]) -> tuple[dict, float]:
        answer, ms = self.request("POST", "/api/reports/", json={"name": name, "players": player_ids})
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


def status_pollers(
    *, base_url: str, token: str, report_id: str, pollers: int, seconds: float, interval_s: float = 1.0
) -> PollResult:
    """`pollers` clients, each GETting the report's status every `interval_s` for `seconds`.

    Each sends If-None-Match with the last ETag it saw, as a browser does, so
    most answers are 304 while nothing changed. Clients start spread over the
    first interval, as independent browsers would.
    """
    result = PollResult()
    lock = threading.Lock()
    path = f"/api/reports/{report_id}/"
    start = time.monotonic() + 0.5

    def poll(index: int) -> None:
        client = ApiClient(base_url, token)
        etag = None
        tick = start + random.Random(index).random() * interval_s
        end = start + seconds
        while tick < end:
            delay = tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            headers: dict[str, str] = {"If-None-Match": etag} if etag else {}
            try:
                answer, ms = client.request("GET", path, headers=headers)
            except requests.RequestException as exc:
                with lock:
                    result.errors.append(f"{type(exc).__name__}: {exc}")
            else:
                etag = answer.headers.get("ETag", etag)
                with lock:
                    result.latencies_ms.append(ms)
                    result.statuses[answer.status_code] = result.statuses.get(answer.status_code, 0) + 1
            tick += interval_s

    threads = [threading.Thread(target=poll, args=(index,), daemon=True) for index in range(pollers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result
