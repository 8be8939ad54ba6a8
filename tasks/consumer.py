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

from celery.worker.consumer import Consumer as CeleryConsumer


class Consumer(CeleryConsumer):
    def connection_for_write(self, url=None, heartbeat=None):
        connection = self.app.connection_for_write(
            url=url, heartbeat=heartbeat, transport_options={"confirm_publish": False}
        )
        return self.ensure_connected(connection)
