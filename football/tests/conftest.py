"""Fixtures for the importer's tests; the shared `world_cup` fixture is in the root conftest."""

import pytest

from football.models import Appearance, Competition, Dataset, Event, Match, Player, Season, Team


@pytest.fixture
def empty_football_db(db):
    """No football rows, inside the test's transaction (the session's World Cup rows come back after)."""
    for model in (Event, Appearance, Match, Season, Competition, Player, Team, Dataset):
        model.objects.all().delete()
