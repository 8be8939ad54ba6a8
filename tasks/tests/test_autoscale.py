"""A real worker with --autoscale grows its pool under a burst and shrinks it back when idle."""

import pytest

from tasks.tests.conftest import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.services]

# Seconds a grown process must be idle before the autoscaler may retire it
# (Celery reads AUTOSCALE_KEEPALIVE; 30 by default). Short, to keep the test short.
KEEPALIVE_S = 2
TASK_SECONDS = 2.0
BURST = 6


def test_worker_pool_grows_under_a_burst_and_shrinks_when_idle(processes, require_service):
    require_service("rabbitmq")
    queue, node, client, worker = processes.start_worker(
        "autoscale-test", "--autoscale=3,1", {"AUTOSCALE_KEEPALIVE": str(KEEPALIVE_S)}
    )

    def pool_processes() -> list[int] | None:
        assert worker.poll() is None, f"the worker exited:\n{processes.log(worker)}"
        stats = client.control.inspect(destination=[node], timeout=1.0).stats() or {}
        return stats[node]["pool"]["processes"] if node in stats else None

    try:
        at_rest = wait_until(pool_processes, timeout=60, what="the worker to answer inspect stats")
        assert len(at_rest) == 1

        results = [
            client.send_task("tasks.probe_sleep", args=[TASK_SECONDS], queue=queue) for _ in range(BURST)
        ]
        assert len({r.id for r in results}) == BURST

        grown = wait_until(
            lambda: (p := pool_processes()) and len(p) > 1 and p, timeout=30, what="the pool to grow"
        )
        assert 1 < len(grown) <= 3

        def idle() -> bool:
            inspect = client.control.inspect(destination=[node], timeout=1.0)
            active, reserved = inspect.active() or {}, inspect.reserved() or {}
            return node in active and not active[node] and not reserved.get(node)

        # Every task of the burst has run (none active or reserved, the queue drained).
        wait_until(idle, timeout=BURST * TASK_SECONDS + 30, what="the burst to be consumed")
        with client.connection_for_write() as connection:
            _, waiting, _ = connection.default_channel.queue_declare(queue=queue, passive=True)
        assert waiting == 0
        assert "probe_sleep" in processes.log(worker)

        shrunk = wait_until(
            lambda: (p := pool_processes()) and len(p) == 1 and p,
            timeout=KEEPALIVE_S + 30,
            what="the pool to shrink back to one process",
        )
        assert len(shrunk) == 1
    finally:
        processes.stop_all()
        with client.connection_for_write() as connection:
            connection.default_channel.queue_delete(queue=queue)
