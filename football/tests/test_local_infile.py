"""LOAD DATA LOCAL INFILE is allowed on an importer's connection only, never by the settings (issue 21)."""

import pytest
from django.db import DatabaseError, connections

from config.settings.base import _database
from football.importer.writers import local_infile_allow


def test_the_settings_turn_local_infile_off():
    # Off explicitly: left out, MariaDB's client library allows it.
    assert _database("mysql://root@127.0.0.1:3306/football")["OPTIONS"]["local_infile"] == 0


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_a_connection_loads_a_local_file_only_once_an_importer_allowed_it(tmp_path):
    connection = connections["default"]
    if connection.vendor != "mysql":
        pytest.skip("LOAD DATA LOCAL INFILE is MySQL's")
    options = {**connection.settings_dict["OPTIONS"], "local_infile": 0}
    # A connection as a web or worker process opens it (the test settings allow it for the test process).
    probe = type(connection)({**connection.settings_dict, "OPTIONS": options}, alias="local_infile_probe")
    rows = tmp_path / "rows.tsv"
    rows.write_text("1\n2\n3\n")
    load = "LOAD DATA LOCAL INFILE %s INTO TABLE infile_probe (n)"
    try:
        with probe.cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE infile_probe (n INT)")
            with pytest.raises(DatabaseError, match="not allowed"):
                cursor.execute(load, [str(rows)])

        local_infile_allow(probe)

        assert probe.settings_dict["OPTIONS"]["local_infile"] == 1
        with probe.cursor() as cursor:
            # A new connection: the temporary table went with the old one.
            cursor.execute("CREATE TEMPORARY TABLE infile_probe (n INT)")
            cursor.execute(load, [str(rows)])
            cursor.execute("SELECT SUM(n) FROM infile_probe")
            assert cursor.fetchone()[0] == 6
    finally:
        probe.close()
