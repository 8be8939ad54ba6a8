"""Web first, fast sections next, slow sections last: each worker pool lowers its own priority.

Fast sections decide when a report can be opened; slow ones run on while
the analyst reads; the web process answers the status polls meanwhile. On a
host running all three (two cores here), six slow processes rendering
pictures took the CPU from the fast sections and the web: a 25-player squad
became ready later than the same sections run one after another, and status
answers waited for a core (docs/performance.md). A worker lowers its own
scheduling priority at start-up by the niceness of its queues
(WORKER_NICENESS; a worker serving both takes the higher priority), and its
pool processes inherit it. Every pool still gets every idle cycle.
"""

import os

from celery.signals import celeryd_after_setup


@celeryd_after_setup.connect
def _lower_worker_priority(sender, instance, **kwargs):
    from django.conf import settings

    queues = set(instance.app.amqp.queues.consume_from or instance.app.amqp.queues)
    niceness = [settings.WORKER_NICENESS[queue] for queue in queues if queue in settings.WORKER_NICENESS]
    if niceness and min(niceness) > 0:
        os.nice(min(niceness))
