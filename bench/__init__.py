"""The benchmark suite (`make bench`): CONTRACT section 9 and the performance issue; see docs/performance.md."""
