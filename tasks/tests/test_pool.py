"""The workers' autoscaler: Celery's, with grown processes kept for WORKER_AUTOSCALE_KEEPALIVE_S.

That a real worker grows and shrinks with it is tasks/tests/test_autoscale.py
(which sets AUTOSCALE_KEEPALIVE to 2 s and waits for the shrink).
"""

import pytest
from celery.worker import autoscale

from config.celery_app import app
from tasks.pool import Autoscaler


class _Pool:
    num_processes = 1


def test_workers_use_our_autoscaler_with_the_configured_keepalive(settings):
    assert app.conf.worker_autoscaler == "tasks.pool:Autoscaler"
    settings.WORKER_AUTOSCALE_KEEPALIVE_S = 600.0

    scaler = Autoscaler(_Pool(), 6, 1)

    assert isinstance(scaler, autoscale.Autoscaler)
    assert (scaler.max_concurrency, scaler.min_concurrency, scaler.keepalive) == (6, 1, 600.0)
    assert Autoscaler(_Pool(), 6, 1, keepalive=5).keepalive == 5


def test_the_race_guard_fits_the_pinned_billiard():
    """The start-up check passes, and it fails when a guarded method lost its lock (an upgrade reshaped it)."""
    from billiard.pool import Pool

    from tasks import pool

    pool.autoscale_guard_check()
    original = Pool._join_exited_workers
    try:
        Pool._join_exited_workers = original.__wrapped__
        with pytest.raises(RuntimeError, match="_join_exited_workers"):
            pool.autoscale_guard_check()
    finally:
        Pool._join_exited_workers = original


def test_canary_billiard_still_lists_a_new_process_before_starting_it():
    """The race the guard closes (celery/billiard#159, #323): when this fails, billiard changed; re-check the guard."""
    import inspect

    from billiard.pool import Pool

    source = inspect.getsource(inspect.unwrap(Pool._create_worker_process))
    assert source.index("self._pool.append(w)") < source.index("w.start()")
    exited_check = inspect.getsource(inspect.unwrap(Pool._join_exited_workers))
    # A process with no popen yet (not started) is taken for an exited one.
    assert "if popen is None or exitcode is not None" in exited_check


def test_the_exit_check_waits_while_a_process_is_being_created():
    """On a real billiard pool: with the guard's lock held (a process half created), the supervisor's check waits."""
    import threading

    from billiard.pool import Pool

    from tasks.pool import _pool_lock

    real = Pool(processes=1)
    try:
        checked = threading.Event()

        def check():
            real._join_exited_workers()
            checked.set()

        with _pool_lock:
            thread = threading.Thread(target=check)
            thread.start()
            assert not checked.wait(timeout=0.3), "the exit check ran while process creation held the lock"
        assert checked.wait(timeout=10), "the exit check did not run once the lock was free"
        thread.join(timeout=10)
    finally:
        real.terminate()
