"""Database connections in the workers: kept from task to task, as the web keeps them from request to request.

Celery's Django fixup (Celery 5.7) closes every database connection before
and after each task unless CELERY_DB_REUSE_MAX is set: honouring
CONN_MAX_AGE was tried and reverted upstream (celery/celery#6134, #9824).
Each section then opened two MySQL connections (the app and the football
database) and closed them again; on two busy cores a connection took tens of
milliseconds, and a py-spy profile of the fast pool put an eighth of the
sections' time in MySQLdb's connect (docs/performance.md).

CELERY_DB_REUSE_MAX (settings) lets the fixup keep connections for that many
tasks. Before each task, Django's own close_old_connections() then does what
it does at the start of every request: it drops a connection past
CONN_MAX_AGE or broken by an error, and arms the CONN_HEALTH_CHECKS ping
before the task's first query, so a connection the server closed meanwhile
is replaced instead of failing the task.
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
