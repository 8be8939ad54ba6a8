"""The workers' autoscaler: Celery's, with grown processes kept for WORKER_AUTOSCALE_KEEPALIVE_S.

That a real worker grows and shrinks with it is tasks/tests/test_autoscale.py
(which sets AUTOSCALE_KEEPALIVE to 2 s and waits for the shrink).
"""

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
