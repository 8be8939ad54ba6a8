"""Flower's configuration: basic auth is required, and Flower listens on localhost unless told otherwise.

Flower reads `flowerconfig.py` from the working folder by itself, so the
contract's plain `celery -A config flower` run from the repository picks this
up (elsewhere pass `--conf=/path/to/flowerconfig.py`). Flower would happily
start without any authentication; this file makes it exit at once instead.

Environment:
- FLOWER_BASIC_AUTH (required): `user:password`, several separated by commas.
- FLOWER_ADDRESS: the address to bind, 127.0.0.1 by default (0.0.0.0 in a
  container whose port is published on the host's loopback only).
- FLOWER_PORT: 5555 by default.

Flower leaves /healthcheck and /metrics (Prometheus) open even with basic
auth (flower.views.monitor has no @authenticated); see docs/operations.md.
"""

import os
import sys


def _credentials(value: str) -> list[str]:
    entries = [entry.strip() for entry in value.split(",") if entry.strip()]
    if not entries:
        sys.exit(
            "Flower refuses to start without authentication: set FLOWER_BASIC_AUTH to user:password "
            "(several separated by commas)."
        )
    for entry in entries:
        user, sep, password = entry.partition(":")
        if not (sep and user and password):
            sys.exit(
                "FLOWER_BASIC_AUTH must be user:password (several separated by commas); "
                "an entry has no user or no password."
            )
    return entries


basic_auth = _credentials(os.environ.get("FLOWER_BASIC_AUTH", ""))
address = os.environ.get("FLOWER_ADDRESS") or "127.0.0.1"
port = int(os.environ.get("FLOWER_PORT") or 5555)
