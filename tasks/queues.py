"""Queue names: the contract has two, and every task names one of them."""

FAST_QUEUE = "fast"
SLOW_QUEUE = "slow"
QUEUES = (FAST_QUEUE, SLOW_QUEUE)
