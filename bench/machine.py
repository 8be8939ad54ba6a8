"""The machine and software a run measured, kept beside its figures so that runs compare fairly."""

from __future__ import annotations

import contextlib
import os
import platform
from importlib import metadata
from pathlib import Path

PACKAGES = ("Django", "celery", "kombu", "djangorestframework", "gunicorn", "mysqlclient", "boto3", "moto")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def machine_details() -> dict[str, str | int | float | None]:
    """cpu count and model, memory, OS, Python and the versions of the packages on the measured path."""
    details: dict[str, str | int | float | None] = {
        "machine.cpu_count": os.cpu_count(),
        "machine.cpu_model": _cpu_model(),
        "machine.memory_gb": _memory_gb(),
        "machine.os": platform.platform(),
        "machine.python": platform.python_version(),
    }
    with contextlib.suppress(OSError):
        details["machine.load_avg_1m_at_start"] = round(os.getloadavg()[0], 2)
    for package in PACKAGES:
        try:
            details[f"version.{package.lower()}"] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return details
