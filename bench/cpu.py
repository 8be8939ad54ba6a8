"""CPU time of the processes behind a measurement, by role, read from /proc (Linux; elsewhere nothing).

A figure such as `squad_ready_s` is the wall time of work spread over many
processes on shared cores. Reading every process's CPU time before and after
says where that time went: the sections, the database, moto (which a real S3
would not put on this host), the broker. `squad_ready_cpu.<role>_s` and
`serial_fast_cpu.<role>_s` are these differences.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

PROC = Path("/proc")
# Services of the machine, known by their executable's name.
SERVICE_ROLES = {"mariadbd": "mariadb", "mysqld": "mariadb", "beam.smp": "rabbitmq", "redis-server": "redis"}
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _processes() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, executable name, CPU seconds used), for every process still readable."""
    found = {}
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        # "pid (name) state ppid ... utime stime ...": the name may hold spaces and parentheses.
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        found[int(entry.name)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / _TICKS)
    return found


def cpu_by_role(roots: Mapping[str, int | Iterable[int]]) -> dict[str, float]:
    """CPU seconds used so far by each role: its root pids with their descendants, the services, this process."""
    processes = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    used: dict[str, float] = {}
    for role, root in roots.items():
        stack = [root] if isinstance(root, int) else list(root)
        while stack:
            pid = stack.pop()
            if pid in processes:
                used[role] = used.get(role, 0.0) + processes[pid][2]
            stack.extend(children.get(pid, ()))
    for _, name, seconds in processes.values():
        role = SERVICE_ROLES.get(name)
        if role:
            used[role] = used.get(role, 0.0) + seconds
    if os.getpid() in processes:
        used["bench"] = processes[os.getpid()][2]
    return used


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What each role used between two readings (a role seen only once counts from zero)."""
    return {role: max(0.0, after[role] - before.get(role, 0.0)) for role in after}
