"""Database connections in the workers: kept from task to task, as the web keeps them from request to request.

Celery's Django fixup closes every connection around each task unless
CELERY_DB_REUSE_MAX is set (honouring CONN_MAX_AGE was tried and reverted
upstream: celery/celery#6134, #9824). With it set, Django's
close_old_connections() before each task drops a connection past
CONN_MAX_AGE or broken, and arms the CONN_HEALTH_CHECKS ping, as at the start
of a request. Why: docs/performance.md, "Why the code is as it is".
"""

from celery.signals import task_prerun
from django.db import close_old_connections


@task_prerun.connect
def _connections_as_for_a_request(sender=None, task=None, **kwargs):
    # A task run in-process (apply(): `run_job`, tests) shares its caller's
    # connection and transaction: leave them alone, as Celery's fixup does.
    if getattr((task or sender).request, "is_eager", False):
        return
    close_old_connections()
