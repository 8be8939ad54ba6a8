"""The worker's consumer, with its monitoring events published without broker confirms.

Publisher confirms (CELERY_BROKER_TRANSPORT_OPTIONS `confirm_publish`) are a
setting of a whole connection: py-amqp puts every channel of it in confirm
mode, and each publish then waits for RabbitMQ's acknowledgement. A task
message needs that. The worker's task events (received, started, succeeded,
for Flower) got the same wait: the consumer, the one thread that hands every
message to the pool and acknowledges it, published each batch of events and
then sat in drain_events until the broker confirmed it. A py-spy profile of
the fast worker's main process under a 25-player report put a fifth of its
busy samples in that publish-and-wait (docs/performance.md).

Events are monitoring data: Celery drops them when no monitor listens, and
one lost while the broker goes down is a gap in Flower's feed, not a lost
section. The consumer opens its event connection (Celery's Events step is the
only caller of `connection_for_write` here) without confirms; every other
publish of the worker (retries, chains, the dispatch of slow sections) keeps
them. CELERY_WORKER_CONSUMER points Celery at this class.
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
