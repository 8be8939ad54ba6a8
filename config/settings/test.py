"""Test runs: local settings plus fast hashing, no throttling, and the database the test pass asks for.

`make test` runs pytest twice: on SQLite, then with TEST_DATABASE=mysql on
the MariaDB server (TEST_MYSQL_URL, by default root on localhost).
"""

from .base import *  # noqa: F403
from .base import DATABASES, REST_FRAMEWORK, VAR_DIR, _database, env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"report_create": "100000/min", "user": "1000000/min"},
}

TEST_DATABASE = env.str("TEST_DATABASE", default="sqlite")
if TEST_DATABASE == "mysql":
    DATABASES = {
        "default": _database(env.str("TEST_MYSQL_URL", default="mysql://root@127.0.0.1:3306/football"))
    }
    DATABASES["default"]["TEST"] = {
        "NAME": "test_football",
        "CHARSET": "utf8mb4",
        "COLLATION": "utf8mb4_unicode_ci",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: Celery workers started by the tests are other
    # processes and must see the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
