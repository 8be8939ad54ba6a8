"""Publishing: the broker confirms a dispatch's messages together, and every one arrives."""

import os
import uuid

import pytest
from celery import current_app
from kombu import Queue

from reports.dispatch import _confirmed_batch, _Confirms

from .conftest import PRODUCTION

pytestmark = pytest.mark.mysql


class _Channel:
    """Just what _Confirms uses of a py-amqp channel: confirm mode and ack/nack events."""

    def __init__(self):
        self.events = {"basic_ack": set(), "basic_nack": set()}
        self.confirming = False

    def confirm_select(self):
        self.confirming = True

    def ack(self, tag, multiple=False):
        for callback in self.events["basic_ack"]:
            callback(tag, multiple)

    def nack(self, tag, multiple=False):
        for callback in self.events["basic_nack"]:
            callback(tag, multiple)


def test_confirms_count_single_and_multiple_acknowledgements():
    channel = _Channel()
    confirms = _Confirms(channel)
    for _ in range(5):
        confirms.published()
    assert channel.confirming and confirms.sent == 5
    assert confirms.unconfirmed == {1, 2, 3, 4, 5}

    channel.ack(2, multiple=True)  # confirms 1 and 2
    channel.ack(4)  # out of order: only 4
    assert confirms.unconfirmed == {3, 5}
    channel.nack(5)
    channel.ack(3)
    assert not confirms.unconfirmed
    with pytest.raises(Exception, match="refused 1 of 5"):
        confirms.wait(timeout=1)


def test_confirms_wait_gives_up_when_the_broker_does_not_answer():
    channel = _Channel()
    channel.connection = type("Connection", (), {"drain_events": lambda self, timeout: None})()
    confirms = _Confirms(channel)
    confirms.published()
    with pytest.raises(TimeoutError, match="confirmed 0 of 1"):
        confirms.wait(timeout=0.05)


def test_a_confirmed_batch_delivers_every_message():
    """On RabbitMQ (production pass) with publisher confirms; on the filesystem transport as a plain producer.

    Also the canary of what _Confirms relies on in py-amqp: on a connection
    without confirm_publish a channel's publish does not wait, and after
    confirm_select the broker's confirms arrive as basic_ack events (else
    the batch's wait times out here).
    """
    queue = Queue(f"test-dispatch-{os.getpid()}-{uuid.uuid4().hex[:6]}", routing_key="test-dispatch")
    with current_app.connection_for_write() as connection:
        bound = queue(connection.default_channel)
        bound.declare()
        try:
            with _confirmed_batch() as producer:
                assert isinstance(producer.confirms, _Confirms) == PRODUCTION
                if PRODUCTION:
                    channel = producer.channel
                    assert not channel.connection.confirm_publish
                    assert (
                        channel.basic_publish == channel._basic_publish
                    )  # py-amqp's publish without the wait
                for number in range(200):
                    producer.publish({"n": number}, routing_key=queue.name, serializer="json")
                if PRODUCTION:
                    assert producer.confirms.sent == 200
            received = []
            while (message := bound.get(no_ack=True)) is not None:
                received.append(message.payload["n"])
            assert sorted(received) == list(range(200))
        finally:
            if PRODUCTION:
                bound.delete()
