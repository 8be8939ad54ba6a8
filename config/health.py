"""Liveness (`/healthz`) and readiness (`/readyz`) probes, unauthenticated.

`/healthz` answers as long as the process can serve a request and touches
nothing else, so an orchestrator restarts the process only when it is itself
broken, not when the database is. `/readyz` checks every dependency a report
needs: the databases, the broker, the result backend and the file storage.

Each check runs in its own thread and is given HEALTH_CHECK_TIMEOUT_S: a
black-holed MariaDB or RabbitMQ does not answer "refused", it hangs for the
OS's TCP timeout (minutes), and boto3 retries S3 for a minute, while a probe
must answer within a load balancer's few seconds. The checks run side by
side, so the answer takes at most about one timeout, not four. A check still
hanging after its timeout is reported as an error and left to finish in its
thread.

The answer is kept for READYZ_CACHE_S, so a prober (or anyone: it is
unauthenticated) polling fast does not turn into four dependency checks a
request; and callers who are not staff see only `ok` or `error` per check,
not the errors' text.
"""

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

# A key that is never written: `exists` on it proves the storage answers
# (S3: the bucket exists and the credentials may read it) without writing.
STORAGE_PROBE_KEY = "reports/.readyz-probe"
# Long enough for a useful hint, short enough not to spill an unauthenticated
# caller a stack of driver internals.
ERROR_MAX_CHARS = 200


def check_database() -> None:
    try:
        for alias in connections:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
    finally:
        # This runs in a short-lived thread: close its connections rather than
        # leave them for the server to time out (CONN_MAX_AGE keeps them otherwise).
        connections.close_all()


def check_broker() -> None:
    from config.celery_app import app

    timeout = settings.HEALTH_CHECK_TIMEOUT_S
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
        if connection.transport_cls == "filesystem":
            # The filesystem transport "connects" to anything; what matters is
            # that a message can be written into its folder.
            folder = connection.transport_options["data_folder_out"]
            if not os.access(folder, os.W_OK | os.X_OK):
                raise OSError(f"broker folder {folder} is missing or not writable")


def check_result_backend() -> None:
    from config.celery_app import app

    backend = app.backend
    # Both the Redis and the file backend are key-value stores: a read of a
    # key that does not exist is one round trip and changes nothing.
    if hasattr(backend, "get"):
        backend.get(backend.get_key_for_task("readyz-probe"))
    else:
        backend.get_task_meta("readyz-probe")


def check_storage() -> None:
    default_storage.exists(STORAGE_PROBE_KEY)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "result_backend": check_result_backend,
    "storage": check_storage,
}


def _describe(exc: BaseException) -> str:
    text = f"error: {type(exc).__name__}: {exc}".strip().rstrip(":")
    return text[:ERROR_MAX_CHARS]


_kept: tuple[float, dict[str, str]] | None = None
_kept_lock = threading.Lock()


def readiness_kept() -> dict[str, str]:
    """`readiness()`, run at most once per READYZ_CACHE_S in this process (callers meanwhile wait for it)."""
    global _kept
    with _kept_lock:
        if _kept is None or time.monotonic() >= _kept[0]:
            _kept = (time.monotonic() + settings.READYZ_CACHE_S, readiness())
        return _kept[1]


def readiness_forget() -> None:
    global _kept
    _kept = None


def readiness() -> dict[str, str]:
    """Run every check side by side; each is `ok` or `error: ...`."""
    timeout = settings.HEALTH_CHECK_TIMEOUT_S
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="readyz")
    try:
        futures = {name: pool.submit(check) for name, check in CHECKS.items()}
        deadline = time.monotonic() + timeout
        results = {}
        for name, future in futures.items():
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
                results[name] = "ok"
            except FutureTimeout:
                results[name] = f"error: no answer within {timeout:g} s"
                logger.warning("readyz: %s gave no answer within %s s", name, timeout)
            except Exception as exc:
                results[name] = _describe(exc)
                logger.warning("readyz: %s failed", name, exc_info=True)
        return results
    finally:
        # Do not wait for a hung check: the probe must answer now.
        pool.shutdown(wait=False, cancel_futures=True)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    results = readiness_kept()
    ready = all(value == "ok" for value in results.values())
    if not request.user.is_staff:
        results = {name: "ok" if value == "ok" else "error" for name, value in results.items()}
    return JsonResponse(results, status=200 if ready else 503)
