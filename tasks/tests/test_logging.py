"""Log lines written inside a task carry its name, id and report id."""

import io
import json
import logging

from celery import shared_task

from tasks.logging import JsonFormatter, KeyValueFormatter, TaskContextFilter

logger = logging.getLogger("tasks.tests.log_probe")


@shared_task(name="tasks.tests.log_probe")
def log_probe(report_id=None, section=None):
    logger.info("section computed")


def capture(formatter: logging.Formatter) -> io.StringIO:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(TaskContextFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return stream


def teardown_function():
    logger.handlers.clear()


def test_key_value_lines_name_the_task_and_the_report():
    stream = capture(KeyValueFormatter())
    result = log_probe.apply(kwargs={"report_id": "3f2c", "section": "shot_map"}, task_id="task-123")
    logger.info("outside any task")

    inside, outside = stream.getvalue().splitlines()
    assert result.successful()
    assert (
        "task_name=tasks.tests.log_probe task_id=task-123 report_id=3f2c section=shot_map | section computed"
        in inside
    )
    assert " INFO tasks.tests.log_probe " in inside
    assert "task_id" not in outside and outside.endswith("tasks.tests.log_probe outside any task")


def test_json_lines_are_one_object_each_with_the_task_context():
    stream = capture(JsonFormatter())
    log_probe.apply(kwargs={"report_id": "3f2c"}, task_id="task-456")
    try:
        raise ValueError("bad partial")
    except ValueError:
        logger.exception("merge failed")

    inside, failure = (json.loads(line) for line in stream.getvalue().split("\n") if line.startswith("{"))
    assert inside["task_id"] == "task-456"
    assert inside["report_id"] == "3f2c"
    assert inside["message"] == "section computed"
    assert inside["level"] == "INFO"
    assert "task_id" not in failure
    assert "ValueError: bad partial" in failure["exc_info"]
