"""The worker's consumer, with its monitoring events published without broker confirms.

Publisher confirms are a setting of a whole py-amqp connection. Task messages
need them; the worker's task events (for Flower) do not, and waiting for each
batch's confirm stalled the one thread that hands messages to the pool. The
Events step opens its connection through `connection_for_write`, overridden
here without confirms; every other publish of the worker keeps them.
CELERY_WORKER_CONSUMER points Celery at this class. Measurements:
docs/performance.md, "Why the code is as it is".
"""

import inspect

from celery.worker.consumer import Consumer as CeleryConsumer
from celery.worker.consumer.events import Events

# Upstream has no per-connection choice for events (celery/celery#9887 asks for batch confirms instead).
# The canary tests are in tasks/tests/test_consumer.py.
_PARAMETERS = ["self", "url", "heartbeat"]


class Consumer(CeleryConsumer):
    def connection_for_write(self, url=None, heartbeat=None):
        connection = self.app.connection_for_write(
            url=url, heartbeat=heartbeat, transport_options={"confirm_publish": False}
        )
        return self.ensure_connected(connection)


def consumer_check() -> None:
    """At start-up (tasks.apps): raise if Celery's consumer no longer opens its event connection as overridden here."""
    found = list(inspect.signature(CeleryConsumer.connection_for_write).parameters)
    if found != _PARAMETERS or not hasattr(Events, "start"):
        raise RuntimeError(
            f"celery Consumer.connection_for_write{tuple(found)} changed: re-check tasks/consumer.py"
        )
