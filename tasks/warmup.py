"""Work every pool process would repeat on its first task, done once by the worker before it forks.

The pool grows from one process to six under a burst (`--autoscale=6,1`)
and shrinks back when idle, so new processes start all the time. Each one
used to pay, on its first task, for creating the S3 client (botocore parses
its service model: 0.15 s of CPU) and, in the slow pool, for importing the
drawing libraries (0.9 s): on two cores a cold 25-player report became ready
1.3 s later than a warm one. The worker's main process does both at start-up
(celeryd_after_setup runs before the pool starts); pool processes are forked
from it and inherit the result.

The S3 client is created without a request, so no connection is open when
the pool forks: each process opens its own. django-storages keeps the client
per thread; a process forked from another thread (billiard replacing a dead
process from its supervisor thread) creates its own on first use, as before.
"""

import gc
import logging

from celery.signals import celeryd_after_setup

logger = logging.getLogger(__name__)


@celeryd_after_setup.connect
def _warm_up_before_fork(sender, instance, **kwargs):
    from django.core.files.storage import default_storage

    from reports.sections import REGISTRY

    queues = set(instance.app.amqp.queues.consume_from or instance.app.amqp.queues)
    for section in REGISTRY:
        if section.warm_up is not None and section.queue in queues:
            section.warm_up()
    # S3Storage builds its boto3 resource on first access; the file system storage has no client.
    getattr(default_storage, "connection", None)
    # What is loaded now lives as long as the pool: frozen, a full collection in
    # a pool process does not walk it (75 ms in a web process, config/wsgi.py),
    # and does not write to the pages the processes share since the fork.
    gc.freeze()
    logger.info("warmed up for queues %s", ", ".join(sorted(queues)))
