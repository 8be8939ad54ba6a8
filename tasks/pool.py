"""The worker pools' autoscaling: grown processes stay longer, and a guard around a race in billiard.

The keepalive (WORKER_AUTOSCALE_KEEPALIVE_S, 600 s unless AUTOSCALE_KEEPALIVE
says otherwise) keeps a grown pool for reports created minutes apart; the
pool still grows 1 to 6 and shrinks back. The guard makes billiard's process
creation and its exit check mutually exclusive: the supervisor otherwise
takes a not-yet-started process for an exited one and crashes on
`del self._poolctrl[None]`, and the worker stops consuming (celery/billiard#159,
#323). Measurements and history: docs/performance.md, "Why the code is as it is".
"""

import functools
import inspect
import threading

from billiard.pool import Pool
from celery.worker import autoscale
from django.conf import settings


class Autoscaler(autoscale.Autoscaler):
    """Celery's autoscaler with the keepalive of WORKER_AUTOSCALE_KEEPALIVE_S (CELERY_WORKER_AUTOSCALER)."""

    def __init__(self, *args, keepalive: float | None = None, **kwargs):
        super().__init__(*args, keepalive=keepalive or settings.WORKER_AUTOSCALE_KEEPALIVE_S, **kwargs)


_pool_lock = threading.RLock()
# The billiard methods the guard wraps, with the parameters it was written against (billiard 4.3.2).
# Upstream: celery/billiard#159, #323 (open). The canary tests are in tasks/tests/test_pool.py.
_GUARDED = {"_create_worker_process": ["self", "i"], "_join_exited_workers": ["self", "shutdown"]}


def _serialised(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with _pool_lock:
            return method(self, *args, **kwargs)

    wrapper.__serialised__ = True
    return wrapper


def guard_autoscale_race() -> None:
    for name in _GUARDED:
        method = getattr(Pool, name)
        if not getattr(method, "__serialised__", False):
            setattr(Pool, name, _serialised(method))


def autoscale_guard_check() -> None:
    """At start-up (tasks.apps): raise if billiard no longer has what the guard wraps, or it is not wrapped.

    A billiard upgrade that renames or reshapes these methods would leave the
    race open without a word; this makes it a start-up failure instead.
    """
    for name, parameters in _GUARDED.items():
        method = getattr(Pool, name, None)
        if method is None or not getattr(method, "__serialised__", False):
            raise RuntimeError(f"billiard.pool.Pool.{name} is missing or not serialised: see tasks/pool.py")
        found = list(inspect.signature(inspect.unwrap(method)).parameters)
        if found != parameters:
            raise RuntimeError(f"billiard.pool.Pool.{name}{tuple(found)} changed: re-check tasks/pool.py")
