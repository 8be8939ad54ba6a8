"""A guard around a race in billiard's process pool that `--autoscale` triggers.

billiard (4.3.2, the latest) appends a new pool process to the pool list
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
import threading

from billiard.pool import Pool

_pool_lock = threading.RLock()


def _serialised(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with _pool_lock:
            return method(self, *args, **kwargs)

    wrapper.__serialised__ = True
    return wrapper


def guard_autoscale_race() -> None:
    for name in ("_create_worker_process", "_join_exited_workers"):
        method = getattr(Pool, name)
        if not getattr(method, "__serialised__", False):
            setattr(Pool, name, _serialised(method))
