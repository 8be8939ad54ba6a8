"""The worker pools' autoscaling: how long grown processes stay, and a guard around a race in billiard.

Processes stay. Celery's autoscaler retires a process idle for
AUTOSCALE_KEEPALIVE seconds, 30 by default. Analysts create reports minutes
apart, so with that default nearly every report found its pool shrunk to one
process: the pool forked five new ones while the report waited, and each new
process paid for its first sections again (fresh database connections,
caches, pages copied from the parent). A cold 25-player squad that found the
pool shrunk was ready in 2.65 s, against 1.8-2.1 s (docs/performance.md).
Our autoscaler is Celery's with a keepalive of WORKER_AUTOSCALE_KEEPALIVE_S
(from the same AUTOSCALE_KEEPALIVE variable, 600 s unless set). The pool
still grows from one process to six and shrinks back to one
(`--autoscale=6,1`); only the wait before it shrinks is longer, and the
autoscaler also checks that often, so an idle pool is back to one process
within 10 to 20 minutes.

The race: billiard (4.3.2, the latest) appends a new pool process to the pool list
before starting it. When the autoscaler grows the pool in its thread while
the pool's supervisor thread checks for exited processes, the supervisor sees
the not-yet-started process (no pid), takes it for an exited one and crashes
on `del self._poolctrl[None]` ("Thread 'Supervisor' crashed: KeyError(None)");
the worker then stops consuming. Seen here within seconds of a burst with
`--autoscale=2,1`; reported upstream in several forms (celery/billiard#159,
#323). Making process creation and the exit check mutually exclusive closes
the window; both are short, so the lock costs nothing measurable.
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
