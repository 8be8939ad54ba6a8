"""Structured log lines that say which task and which report they belong to.

`TaskContextFilter` (on the console handler) stamps every record with the
current Celery task's name and id, and the `report_id` the task was called
with, so that one report's progress can be followed across workers with a
grep. The formatters write those fields as key=value pairs (readable in a
terminal) or as one JSON object per line (DJANGO_LOG_FORMAT=json, for a log
collector). Outside a task the fields are absent.
"""

import datetime as dt
import json
import logging

from celery import current_task

# Task kwargs that identify what a line is about; report_id above all.
CONTEXT_KWARGS = ("report_id", "player_id", "section")


class TaskContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = task_context()
        for key in ("task_name", "task_id", *CONTEXT_KWARGS):
            if not hasattr(record, key):
                setattr(record, key, context.get(key))
        return True


def task_context() -> dict:
    """The running task's name, id and identifying kwargs; empty outside a task."""
    task = current_task
    # current_task is a proxy: falsy outside a task, and its request has no id
    # when a task function is called directly rather than through Celery.
    if not task or not getattr(task.request, "id", None):
        return {}
    context = {"task_name": task.name, "task_id": task.request.id}
    kwargs = task.request.kwargs or {}
    for key in CONTEXT_KWARGS:
        if kwargs.get(key) is not None:
            context[key] = kwargs[key]
    return context


def _fields(record: logging.LogRecord) -> dict:
    fields = {}
    for key in ("task_name", "task_id", *CONTEXT_KWARGS):
        value = getattr(record, key, None)
        if value is not None:
            fields[key] = value
    return fields


def _timestamp(record: logging.LogRecord) -> str:
    return dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds")


class KeyValueFormatter(logging.Formatter):
    """`2026-11-28T01:00:00.123+00:00 INFO reports.tasks task_id=... report_id=12 | message`."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        context = " ".join(f"{key}={value}" for key, value in _fields(record).items())
        line = f"{_timestamp(record)} {record.levelname} {record.name} {context + ' | ' if context else ''}{message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the task context and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            **_fields(record),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
