"""The pipeline's real workers and storage (tests/pipeline.py, one set per session), for the exports' tests too."""

import pytest

from tests.pipeline import report_storage_point


@pytest.fixture(autouse=True)
def report_storage(settings, storage_env):
    """Point this process's default storage where the workers write."""
    return report_storage_point(settings, storage_env)
