"""Web first, fast sections next, slow sections last: each worker pool lowers its own priority.

A worker lowers its scheduling priority at start-up by its queues' niceness
(WORKER_NICENESS; a worker serving both takes the higher priority) and its
pool processes inherit it; every pool still gets every idle cycle. A worker
that leads its own session also lowers its Linux autogroup's niceness (groups
share the CPU equally whatever their processes' niceness); one that does not
leaves the group alone. Under systemd with the CPU controller, set the unit's
`Nice=` or `CPUWeight=` (docs/operations.md). Why: docs/performance.md,
"Why the code is as it is".
"""

import logging
import os

from celery.signals import celeryd_after_setup

logger = logging.getLogger(__name__)

AUTOGROUP = "/proc/self/autogroup"


def priority_lower(niceness: int) -> None:
    """Lower this process's CPU priority by `niceness`, and its autogroup's if it leads its session."""
    os.nice(niceness)
    if os.getsid(0) != os.getpid():
        return
    try:
        with open(AUTOGROUP, "w") as group:
            group.write(str(niceness))
    except OSError as exc:  # not Linux, or a kernel without autogroups
        logger.debug("autogroup niceness not set: %s", exc)


@celeryd_after_setup.connect
def _lower_worker_priority(sender, instance, **kwargs):
    from django.conf import settings

    queues = set(instance.app.amqp.queues.consume_from or instance.app.amqp.queues)
    niceness = [settings.WORKER_NICENESS[queue] for queue in queues if queue in settings.WORKER_NICENESS]
    if niceness and min(niceness) > 0:
        priority_lower(min(niceness))
