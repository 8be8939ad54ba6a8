"""Queue names: the contract has two, and every task names one of them."""

from enum import StrEnum


class Queue(StrEnum):
    FAST = "fast"
    SLOW = "slow"


# Plain strings (the enum's values): they go into JSON, the database and routing as they are.
FAST_QUEUE: str = Queue.FAST.value
SLOW_QUEUE: str = Queue.SLOW.value
QUEUES: tuple[str, ...] = tuple(queue.value for queue in Queue)
