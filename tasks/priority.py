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

Linux's autogroups: a process that starts a session of its own (a service
manager, honcho, `setsid`, the bench) gets a scheduling group of its own,
and groups share the CPU equally whatever the niceness of the processes in
them: niceness only orders processes within a group. A worker that leads its
own session therefore also lowers its group's niceness, which its pool
processes share; one that does not lead it leaves the group alone, since the
web or a shell may be in it (there plain niceness already applies). Under
systemd with the CPU controller, autogroups do not apply: set the unit's
`Nice=` or `CPUWeight=` (docs/operations.md).
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
