"""The worker's consumer publishes its task events without publisher confirms, and they still reach a monitor."""

import threading
import uuid

import pytest
from celery import Celery

from config.celery_app import app as project_app
from tasks.consumer import Consumer
from tasks.tests.conftest import RABBITMQ_URL, wait_until


class _ConsumerParts:
    """What Consumer.connection_for_write uses of a running consumer."""

    def __init__(self, app):
        self.app = app

    def ensure_connected(self, connection):
        connection.ensure_connection(max_retries=1)
        return connection


def test_workers_run_our_consumer():
    # The project's app, not current_app: a test that creates a Celery app makes that one current.
    assert project_app.conf.worker_consumer == "tasks.consumer:Consumer"


@pytest.mark.services
def test_the_event_connection_does_not_confirm_and_task_publishes_still_do(require_service):
    require_service("rabbitmq")
    app = Celery("consumer-test", broker=RABBITMQ_URL, set_as_current=False)  # see tasks/tests/conftest.py
    # As config/settings/base.py sets it for RabbitMQ.
    app.conf.broker_transport_options = {"confirm_publish": True}

    with Consumer.connection_for_write(_ConsumerParts(app)) as events:
        # py-amqp takes the option per connection and binds every channel's publish to it.
        assert events.connection.confirm_publish is False
        assert events.default_channel.basic_publish == events.default_channel._basic_publish
    with app.connection_for_write() as tasks:
        tasks.ensure_connection(max_retries=1)
        assert tasks.connection.confirm_publish is True
        assert tasks.default_channel.basic_publish == tasks.default_channel.basic_publish_confirm


@pytest.mark.services
@pytest.mark.slow
def test_a_real_worker_sends_task_events_that_a_monitor_receives(processes, require_service):
    """What Flower sees: received, started and succeeded for a task, from a worker running this consumer."""
    require_service("rabbitmq")
    queue, node, client, worker = processes.start_worker("events-test", "--concurrency=1")
    seen: dict[str, list[str]] = {}
    task_id = f"events-test-{uuid.uuid4().hex}"

    def on_event(event):
        if event.get("uuid") == task_id:
            seen.setdefault(task_id, []).append(event["type"])
            if event["type"] == "task-succeeded":
                receiver.should_stop = True

    try:
        wait_until(
            lambda: worker.poll() is None and client.control.ping(destination=[node], timeout=1.0),
            timeout=60,
            what="the worker to answer ping",
        )
        with client.connection_for_read() as connection:
            receiver = client.events.Receiver(connection, handlers={"*": on_event})
            # The receiver's queue is bound once it consumes: the task goes after that.
            consuming = threading.Event()
            receiver.on_consume_ready = lambda *args, **kwargs: consuming.set()
            listening = threading.Thread(target=receiver.capture, kwargs={"limit": None, "timeout": 60})
            listening.start()
            assert consuming.wait(timeout=10), "the event receiver did not start consuming"
            client.send_task("tasks.probe_sleep", args=[0], queue=queue, task_id=task_id)
            listening.join(timeout=60)
        assert not listening.is_alive(), f"no task-succeeded event; worker log:\n{processes.log(worker)}"
        assert seen[task_id] == ["task-received", "task-started", "task-succeeded"]
    finally:
        processes.stop_all()
        with client.connection_for_write() as connection:
            connection.default_channel.queue_delete(queue=queue)


def test_the_start_up_check_fits_the_pinned_celery():
    from tasks.consumer import consumer_check

    consumer_check()


@pytest.mark.services
def test_canary_celerys_events_step_opens_its_connection_through_connection_for_write(require_service):
    """What the override relies on: Celery's Events step asks the consumer for its connection (no other path)."""
    from types import SimpleNamespace

    from celery.worker.consumer.events import Events

    require_service("rabbitmq")
    app = Celery("consumer-canary", broker=RABBITMQ_URL, set_as_current=False)
    app.conf.broker_transport_options = {"confirm_publish": True}
    parts = _ConsumerParts(app)
    consumer = SimpleNamespace(
        app=app,
        hostname="canary@localhost",
        hub=None,
        amqheartbeat=None,
        event_dispatcher=None,
        connection_for_write=lambda **kwargs: Consumer.connection_for_write(parts, **kwargs),
    )
    step = Events(consumer)
    step.start(consumer)
    try:
        assert consumer.event_dispatcher.connection.connection.confirm_publish is False
    finally:
        step.shutdown(consumer)
