"""The report pages' fixtures: this process's storage pointed where the workers write, as for the pipeline tests."""

import pytest

from tests.pipeline import report_storage_point


@pytest.fixture(autouse=True)
def report_storage(settings, storage_env):
    """Point this process's default storage where the workers write."""
    return report_storage_point(settings, storage_env)
