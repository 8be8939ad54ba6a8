"""Test runs. `make test` runs pytest twice, once per stack:

- TEST_STACK=embedded (default): SQLite, Celery's filesystem transport, the
  file result backend, local file storage; no servers.
- TEST_STACK=production: MariaDB (TEST_MYSQL_URL), RabbitMQ, Redis, and S3
  through a moto server that the tests start (see reports/tests/conftest.py).

Each test run has its own var folder (var/test/<pid>) unless DJANGO_VAR_DIR
says otherwise, and its own test database, so a run never touches a
developer's data nor another run's broker folders, files or tables. The
folder is set in the environment, so the workers a test starts inherit it.
"""

import os
from pathlib import Path

_RUN = os.getpid()
os.environ.setdefault("DJANGO_VAR_DIR", str(Path(__file__).resolve().parents[2] / "var" / "test" / str(_RUN)))
Path(os.environ["DJANGO_VAR_DIR"]).mkdir(parents=True, exist_ok=True)

TEST_STACK = os.environ.get("TEST_STACK", "embedded")
if TEST_STACK == "production":
    os.environ.setdefault("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
    os.environ.setdefault("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/14")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

from .base import *  # noqa: E402, F403
from .base import DATABASES, REST_FRAMEWORK, STATIC_ROOT, STORAGES, VAR_DIR, _database, env  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Static files straight from the apps' folders (WhiteNoise's finders), unhashed:
# a test that renders a page needs no collectstatic run first, which would cost
# every test process seconds. tests/test_web_surface.py runs the production
# settings themselves (collectstatic, hashed and compressed files) in a gunicorn.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True
# WhiteNoise warns about a STATIC_ROOT that does not exist (here nothing is collected).
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    # Off in effect, unless a test process is started with small rates to test throttling.
    "DEFAULT_THROTTLE_RATES": {
        "report_create": env.str("THROTTLE_REPORT_CREATE", default="100000/min"),
        "report_data": env.str("THROTTLE_REPORT_DATA", default="100000/min"),
        "user": env.str("THROTTLE_USER", default="1000000/min"),
        "anon": env.str("THROTTLE_ANON", default="1000000/min"),
    },
}

TEST_MYSQL_URL = env.str("TEST_MYSQL_URL", default="mysql://root@127.0.0.1:3306/football")
TEST_DATABASE = env.str("TEST_DATABASE", default="mysql" if TEST_STACK == "production" else "sqlite")
if TEST_DATABASE == "mysql":
    DATABASES = {"default": _database(TEST_MYSQL_URL)}
    # The tests import inside each test's transaction, where an importer cannot
    # open its connection again with LOAD DATA LOCAL INFILE allowed
    # (football.importer.writers.local_infile_allow): the test process allows it from the start.
    DATABASES["default"]["OPTIONS"]["local_infile"] = 1
    DATABASES["default"]["TEST"] = {
        "NAME": f"test_football_{_RUN}",
        "CHARSET": "utf8mb4",
        "COLLATION": "utf8mb4_unicode_ci",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: Celery workers started by the tests are other
    # processes and must see the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}

# A small window (reports.fairshare) so that the test reports, of a few
# players, are dispatched in several refills and every pipeline test runs
# through them; the test workers run 2 processes per queue.
REPORT_WINDOW_SECTIONS = env.int("REPORT_WINDOW_SECTIONS", default=6)
REPORT_WINDOW_REFILL = env.int("REPORT_WINDOW_REFILL", default=3)
# Only a report's last two sections on a queue go out whole, so that both paths run.
REPORT_WINDOW_WHOLE = env.int("REPORT_WINDOW_WHOLE", default=2)
