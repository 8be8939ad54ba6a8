"""`make test-cluster` only: the cluster test builds network namespaces (root) and takes minutes.

`make test` collects the rest of `tests/` and leaves this folder out; `make test-cluster`
sets CLUSTER_TEST=1.
"""

import os

collect_ignore_glob = [] if os.environ.get("CLUSTER_TEST") == "1" else ["test_*.py"]
