"""The slow pool yields the CPU to the fast one.

Fast sections decide when a report can be opened; slow ones run on while
the analyst reads. On a host running both pools (two cores here), six slow
processes rendering pictures took the CPU from the fast sections and from
the web process: a 25-player squad became ready later than the same
sections run one after another, and status answers waited for a core
(docs/performance.md). A worker that consumes only the slow queue lowers its
own scheduling priority at start-up; its pool processes inherit it. It still
gets every idle cycle.
"""

import os

from celery.signals import celeryd_after_setup

from .queues import SLOW_QUEUE


@celeryd_after_setup.connect
def _lower_slow_worker_priority(sender, instance, **kwargs):
    from django.conf import settings

    queues = set(instance.app.amqp.queues.consume_from or instance.app.amqp.queues)
    if queues == {SLOW_QUEUE} and settings.SLOW_WORKER_NICENESS:
        os.nice(settings.SLOW_WORKER_NICENESS)
