"""Settings shared by every environment.

Every variable of CONTRACT section 2 is read here, so each settings module
(local, test, production) honours all of them; the modules below only change
defaults and harden production.
"""

from datetime import timedelta
from pathlib import Path

import environ
from botocore.config import Config as BotocoreConfig
from django.core.exceptions import ImproperlyConfigured

from tasks.queues import Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

VAR_DIR = Path(env.str("DJANGO_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="django-insecure-development-key-not-for-production")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    # Failed sign-ins counted per user and address, locked out after LOGIN_FAILURE_LIMIT (below).
    "axes",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles: `runserver` then leaves static files to WhiteNoise, as gunicorn does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    # Swagger UI and ReDoc served from our own static files, not a CDN.
    "drf_spectacular_sidecar",
    "corsheaders",
    "django_celery_beat",
    "football",
    "players",
    "reports",
    "tasks",
    "exports",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files from the web process itself, right after the security headers
    # (HSTS, nosniff apply to them) and before anything that reads sessions.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in's answer into the lockout page (429).
    "axes.middleware.AxesMiddleware",
]

# Messages in the session, not a cookie: a new share link's one-time URL is one (web.views.share_create).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's own overrides of third-party pages (the ReDoc page without web fonts).
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Databases -------------------------------------------------------------
# The embedded default is one SQLite file in the var folder. WAL lets readers
# go on while a worker writes; IMMEDIATE transactions take the write lock at
# BEGIN, so two writers queue on the busy timeout instead of failing with
# "database is locked" when one upgrades a read lock halfway through.
SQLITE_BUSY_TIMEOUT_S = 30


def _database(url: str) -> dict:
    config = environ.Env.db_url_config(url)
    engine = config["ENGINE"]
    options = config.setdefault("OPTIONS", {})
    if engine == "django.db.backends.sqlite3":
        options.setdefault("transaction_mode", "IMMEDIATE")
        options.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
        options.setdefault(
            "init_command",
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
    elif engine in ("django.db.backends.mysql",):
        options.setdefault("charset", "utf8mb4")
        options.setdefault("isolation_level", "read committed")
        options.setdefault("init_command", "SET sql_mode='STRICT_TRANS_TABLES'")
        # Off, and said so: MariaDB's client library allows LOAD DATA LOCAL INFILE
        # unless told not to, and with it the server can ask the client for any of
        # its files. Only the importers allow it, on their own connection
        # (football.importer.writers.local_infile_allow).
        options.setdefault("local_infile", 0)
        config.setdefault("CONN_MAX_AGE", 60)
        config.setdefault("CONN_HEALTH_CHECKS", True)
    config.setdefault("TEST", {})
    return config


DATABASE_URL = env.str("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
if DATABASE_URL.startswith("sqlite:") and str(VAR_DIR) in DATABASE_URL:
    # SQLite creates the file but not its folder: a fresh var folder must exist.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
FOOTBALL_DATABASE_URL = env.str("FOOTBALL_DATABASE_URL", default=DATABASE_URL)
DATABASES = {"default": _database(DATABASE_URL)}
# The football tables live apart only when asked to; by default they share the
# app database, so one transaction can cover both.
if FOOTBALL_DATABASE_URL != DATABASE_URL:
    DATABASES["football"] = _database(FOOTBALL_DATABASE_URL)
DATABASE_ROUTERS = ["football.routers.FootballRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files (the admin's, DRF's browsable API's, Swagger UI's and ReDoc's, the
# report pages') are served by WhiteNoise from the web process: no proxy or CDN
# is needed, so the admin and the API docs look right on a closed network.
# `collectstatic` copies them here (make run, make demo and the Docker image run
# it); the image keeps them outside the var folder, which is a volume there.
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static"))).resolve()
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"

# --- Cache, locks, throttling ----------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            # The cache is an optimisation, not a dependency: fail fast when Redis is gone, and
            # fail open (a read misses, a write is dropped) rather than answer 500.
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1, "IGNORE_EXCEPTIONS": True},
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Storage -----------------------------------------------------------------
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="") or None
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None
# Report files are private: every URL handed out is signed and short-lived.
AWS_DEFAULT_ACL = "private"
AWS_QUERYSTRING_AUTH = True
AWS_QUERYSTRING_EXPIRE = env.int("AWS_QUERYSTRING_EXPIRE", default=300)
AWS_S3_FILE_OVERWRITE = True
# Bounded S3 retries inside boto3; the task retries on top of that with backoff.
AWS_S3_CLIENT_CONFIG_RETRIES = 2
# Bounded S3 calls. botocore's defaults (60 s to connect, 60 s per read, up to
# 5 attempts) let one stalled endpoint hold a task for minutes, past its time
# limit; with these a hung S3 is a transient error within seconds, and the
# task retries with backoff (reports.runner).
AWS_S3_CONNECT_TIMEOUT_S = env.float("AWS_S3_CONNECT_TIMEOUT_S", default=5.0)
AWS_S3_READ_TIMEOUT_S = env.float("AWS_S3_READ_TIMEOUT_S", default=20.0)
AWS_S3_CLIENT_CONFIG = BotocoreConfig(
    # Signed URLs with signature version 4 (X-Amz-Expires): botocore would
    # otherwise presign with version 2 here, which buckets created since 2020
    # refuse. A client config replaces django-storages' AWS_S3_SIGNATURE_VERSION.
    signature_version="s3v4",
    connect_timeout=AWS_S3_CONNECT_TIMEOUT_S,
    read_timeout=AWS_S3_READ_TIMEOUT_S,
    retries={"total_max_attempts": 1 + AWS_S3_CLIENT_CONFIG_RETRIES, "mode": "standard"},
    # As many pooled connections as a merge reads partials at once
    # (REPORT_READ_CONCURRENCY); botocore's 10 made a live merge open and
    # drop connections on every read.
    max_pool_connections=env.int("REPORT_READ_CONCURRENCY", default=16),
)

_report_storage: dict[str, object]
if AWS_STORAGE_BUCKET_NAME:
    _report_storage = {"BACKEND": "reports.storage.ReportS3Storage"}
else:
    _report_storage = {
        "BACKEND": "reports.storage.AtomicFileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
    }
STORAGES = {
    # The report files (CONTRACT section 7).
    "default": _report_storage,
    # Hashed names (base.4f3c1b.css), so WhiteNoise can let browsers and proxies
    # cache them for a year, and gzip copies beside them. Outside DEBUG a page
    # naming a file that collectstatic did not collect fails loudly.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Celery ------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost//")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=f"file://{VAR_DIR / 'results'}")
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
# A task is acknowledged only after it ran, and one whose worker died is
# requeued: together with idempotent sections this gives at-least-once.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time per process: sections vary from milliseconds to
# minutes, and a prefetched message would wait behind a slow one.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Without it Celery's Django fixup closes every database connection before and
# after each task; with it connections live for this many tasks, and
# tasks/connections.py gives each task Django's request lifecycle (CONN_MAX_AGE,
# CONN_HEALTH_CHECKS) instead.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# Below RabbitMQ's consumer timeout (30 min by default), so a stuck task is
# killed by Celery before the broker closes the channel under it.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
CELERY_RESULT_EXPIRES = 60 * 60 * 24
# Off: nothing reads a STARTED state from the result backend (the database holds
# every section's state, Flower takes task-started from the events).
CELERY_TASK_TRACK_STARTED = False
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# AMQP heartbeats (seconds) of the worker's broker connection. They are how
# RabbitMQ notices a worker host that vanished (power, network) rather than
# closed its connection: the broker closes it after about this long without a
# frame, and only then requeues the host's unacknowledged messages for the
# other workers. RabbitMQ uses the lower of its own (60) and the client's
# value; Celery's default of 120 left a lost host's sections waiting a minute.
# Measured across hosts by `make test-cluster` (docs/operations.md).
CELERY_BROKER_HEARTBEAT = env.int("CELERY_BROKER_HEARTBEAT", default=30)
# A worker that loses the broker stops its running sections: their messages,
# never acknowledged, run elsewhere anyway (why: docs/operations.md, scale-out).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Every task's queue, in one place (CONTRACT section 6: `fast` and `slow`).
CELERY_TASK_ROUTES = {
    "reports.compute_fast_section": {"queue": Queue.FAST.value},
    "reports.compute_slow_section": {"queue": Queue.SLOW.value},
    "reports.dispatch_report": {"queue": Queue.FAST.value},
    "tasks.daily_*": {"queue": Queue.SLOW.value},
    "tasks.weekly_*": {"queue": Queue.SLOW.value},
    "tasks.minutely_*": {"queue": Queue.SLOW.value},
    "reports.run_outbox": {"queue": Queue.SLOW.value},
    "tasks.probe_sleep": {"queue": Queue.FAST.value},
    # A PDF takes Chromium seconds: never in front of a fast section.
    "exports.*": {"queue": Queue.SLOW.value},
}
CELERY_TASK_DEFAULT_QUEUE = Queue.FAST.value
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
if CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(BROKER_DIR / "control"),
        # How often an idle worker looks for new message files.
        "polling_interval": 0.2,
    }
else:
    # Publisher confirms: apply_async returns only once RabbitMQ has the message.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
# Niceness a worker gives itself by the queue it serves (tasks.priority): the
# web answers first, fast sections next, slow sections take what is left.
# 0 turns it off for a queue.
WORKER_NICENESS = {
    "fast": env.int("FAST_WORKER_NICENESS", default=5),
    "slow": env.int("SLOW_WORKER_NICENESS", default=10),
}
# Seconds a grown pool process may sit idle before the autoscaler retires it
# (tasks.pool.Autoscaler). Celery's own variable, with our default: its 30 s
# made nearly every report wait for its pool to grow again.
WORKER_AUTOSCALE_KEEPALIVE_S = env.float("AUTOSCALE_KEEPALIVE", default=600.0)
CELERY_WORKER_AUTOSCALER = "tasks.pool:Autoscaler"
# Task events without publisher confirms (tasks.consumer).
CELERY_WORKER_CONSUMER = "tasks.consumer:Consumer"
# How long the API waits for the broker before answering 503.
BROKER_CHECK_TIMEOUT_S = env.float("BROKER_CHECK_TIMEOUT_S", default=2.0)
# How long /readyz waits for each dependency (database, broker, result
# backend, storage) before calling it down; probes expect an answer in seconds.
HEALTH_CHECK_TIMEOUT_S = env.float("HEALTH_CHECK_TIMEOUT_S", default=2.0)
# How long a /readyz answer is kept: a fast prober must not become a stream of dependency checks.
READYZ_CACHE_S = env.float("READYZ_CACHE_S", default=5.0)

# --- REST framework ------------------------------------------------------------
# How long a web process remembers a valid API token (config/authentication.py):
# a token deleted or a user deactivated in another process works there for at
# most this long. 0: read the token from the database on every request.
AUTH_TOKEN_CACHE_SECONDS = env.int("AUTH_TOKEN_CACHE_SECONDS", default=10)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "players.pagination.StandardPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "reports.exceptions.api_exception_handler",
    # Counted in the default cache: Redis when REDIS_URL is set, so every web
    # process shares one count per user; `anon` bounds password guessing on the
    # token endpoint. Report creation and report data have their own, tighter scopes (reports.apis).
    "DEFAULT_THROTTLE_CLASSES": [
        "config.throttling.UserRateThrottle",
        "config.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "report_create": env.str("THROTTLE_REPORT_CREATE", default="60/min"),
        "report_data": env.str("THROTTLE_REPORT_DATA", default="600/min"),
        "user": env.str("THROTTLE_USER", default="6000/min"),
        "anon": env.str("THROTTLE_ANON", default="120/min"),
    },
}
MAX_PAGE_SIZE = 100

# Shown at the top of /api/docs/ and /api/redoc/: what a client needs before its first call.
API_DESCRIPTION = """
Player reports over the Wyscout public data set (L. Pappalardo et al., "A public data set of
spatio-temporal match events in soccer competitions", Scientific Data 6, 236 (2019); CC BY 4.0).

## Authentication

Everything but this schema, these docs, `POST /api/auth/token/`, `/healthz` and `/readyz` needs an
authenticated user; without one the answer is `401`. Two methods:

- **Token** (`tokenAuth`): send `Authorization: Token KEY`. Get KEY from `POST /api/auth/token/`
  with `username` and `password` (or an operator's `manage.py drf_create_token USER`).
  In this page: *Authorize*, then `Token KEY` as the value.
- **Session** (`cookieAuth`): a browser logged in through `/admin/login/` is authenticated by its
  `sessionid` cookie; `POST` and `DELETE` then also need the `X-CSRFToken` header (the `csrftoken`
  cookie's value), or the answer is `403`.

A report belongs to the user who created it: anyone else gets `404` for it (staff see all).

## Errors

Every error is JSON in Django REST framework's shape, naming each bad value:

- `{"field": ["message", ...], ...}`: a bad body field, query parameter or header (`400`), one
  key per bad one, e.g. `{"players": ["Unknown player ids: 1, 2."]}`.
- `{"detail": "message"}`: everything else: `401` (no or wrong credentials), `403` (a session
  request without its CSRF token), `404` (an unknown id, a report that is not yours, a page beyond
  the last, a path that matches nothing), `405`, `406`, `409`, `413`, `415`, `429` (too many
  requests: wait the `Retry-After` header's seconds) and `503` (the task broker is unreachable
  when a report is created: nothing was created; try again).

A well-formed id that is not in the data is an error, never an empty answer: `404` in a path
(`/api/players/1/`), `400` naming it in a filter or a body (`?team=1`, `"players": [1]`).
"""

SPECTACULAR_SETTINGS = {
    "TITLE": "Football Report API",
    "DESCRIPTION": API_DESCRIPTION.strip(),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc from drf-spectacular-sidecar's copies among our static
    # files: drf-spectacular's default loads them from a public CDN, and the docs
    # page was blank on any machine without a route to one.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # validatorUrl: Swagger UI would otherwise send the schema to swagger.io's online validator.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.empty_query_values_mean_absent",
    ],
    # Two models have a `kind` field with different choices: name each enum.
    "ENUM_NAME_OVERRIDES": {
        "TeamKindEnum": "football.models.Team.Kind",
        "CompetitionKindEnum": "football.models.Competition.Kind",
    },
}

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])

# --- Flower --------------------------------------------------------------------
FLOWER_BASIC_AUTH = env.str("FLOWER_BASIC_AUTH", default="")

# --- Reports -------------------------------------------------------------------
REPORT_MAX_PLAYERS = 500
# Reports the daily purge deletes per batch of ids, so it never holds a cursor over the whole table.
REPORT_PURGE_BATCH = env.int("REPORT_PURGE_BATCH", default=200)
# Attempts before a section is failed for good, counted in the database so
# that a message RabbitMQ redelivers forever (a poison task) still ends.
REPORT_TASK_MAX_ATTEMPTS = env.int("REPORT_TASK_MAX_ATTEMPTS", default=4)
# Longest wait between retries of a transient fault, before jitter.
REPORT_TASK_RETRY_BACKOFF_MAX_S = env.int("REPORT_TASK_RETRY_BACKOFF_MAX_S", default=60)
# Reports with at most this many sections to enqueue are published by the web
# process after commit; larger ones by a dispatch task, to keep the API fast.
REPORT_DISPATCH_INLINE_MAX = env.int("REPORT_DISPATCH_INLINE_MAX", default=200)
# Partials fetched at once when a read merges them (S3 round trips overlap).
REPORT_READ_CONCURRENCY = env.int("REPORT_READ_CONCURRENCY", default=16)
# Worker processes per queue assumed by the status ETA (the pools autoscale to 6).
REPORT_ETA_PARALLELISM = env.int("REPORT_ETA_PARALLELISM", default=2)
REPORT_RETENTION_DAYS = env.int("REPORT_RETENTION_DAYS", default=30)
# A section queued or running longer than this is considered lost by the reaper.
REPORT_TASK_DEADLINE_S = env.int("REPORT_TASK_DEADLINE_S", default=900)
# A running record is taken over by another delivery only after this long: the
# hard time limit plus a margin, past which no live worker can still run it
# (Celery kills it at the limit). A redelivery on the same host whose claimant
# process is gone takes over at once.
REPORT_TASK_RECLAIM_AFTER_S = env.int("REPORT_TASK_RECLAIM_AFTER_S", default=CELERY_TASK_TIME_LIMIT + 30)
# An outbox row claimed by a process that died is run again after this long:
# longer than the slowest follow-up (the merged file of a 500-player report).
REPORT_OUTBOX_LEASE_S = env.int("REPORT_OUTBOX_LEASE_S", default=300)
# A queued record with no dispatch time is published again by the reconciler
# (and the reaper) only this long after it could go out: a large report's
# publish runs in a dispatch task (REPORT_DISPATCH_INLINE_MAX), which may wait
# minutes behind a backed-up fast queue, and a shorter grace published its
# records again every minute meanwhile. A failed publish is retried sooner by
# its outbox row, which stays until the publish (or the handing over) succeeds.
REPORT_UNDISPATCHED_GRACE_S = env.int("REPORT_UNDISPATCHED_GRACE_S", default=900)
# The reconciler leaves a new outbox row to the process that committed it for this long.
REPORT_OUTBOX_GRACE_S = env.int("REPORT_OUTBOX_GRACE_S", default=10)
# Partials checked in storage before a report reuses its stored ones (one per
# section, in one concurrent round); all are checked only if one is gone.
REPORT_REUSE_CHECK_SAMPLE = env.int("REPORT_REUSE_CHECK_SAMPLE", default=9)
# storage_audit deletes an object with no row only when it is older than this:
# a section writes its file before its row.
REPORT_STORAGE_AUDIT_GRACE_S = env.int("REPORT_STORAGE_AUDIT_GRACE_S", default=3600)
# Fair share (reports.fairshare, docs/architecture.md). At most this many
# sections of one report are in the broker or running per queue; the rest stay
# in the database and are published as sections end, so a report posted later
# waits behind at most this many sections of each report before it, not behind
# a 500-player report's 2,500. At least what the pools of one queue run at once
# (6 per worker host here) plus REPORT_WINDOW_REFILL, or a report alone leaves
# processes idle. 8, not more: a shortlist behind a big report waits for one
# window, so it is ready in about (8 + 25) / 25 of its time alone, where 16
# gave 1.6-1.7 (docs/performance.md, "A shortlist's share"); 0: no window,
# every section published at once (first in, first out).
REPORT_WINDOW_SECTIONS = env.int("REPORT_WINDOW_SECTIONS", default=8)
# A report's window is topped up every this many ended sections: one publish
# (and its confirm) per this many sections, not per section. At most
# REPORT_WINDOW_SECTIONS minus the pools' processes, or the queue runs dry.
REPORT_WINDOW_REFILL = env.int("REPORT_WINDOW_REFILL", default=2)
if REPORT_WINDOW_SECTIONS < 0 or (
    REPORT_WINDOW_SECTIONS and not 1 <= REPORT_WINDOW_REFILL <= REPORT_WINDOW_SECTIONS
):
    # Refills come every REPORT_WINDOW_REFILL ended sections: past the window, none would come.
    raise ImproperlyConfigured(
        f"REPORT_WINDOW_REFILL={REPORT_WINDOW_REFILL} with REPORT_WINDOW_SECTIONS={REPORT_WINDOW_SECTIONS}: the "
        "refill must be from 1 to the window (a window of 0 turns fair share off), or a report stops after its "
        "first window"
    )
# A report with at most this many sections left on a queue (a shortlist: 30 is
# six players) may have more than a window in flight: all of them alone or
# behind one other report, and beside more a part that shrinks with theirs,
# so it never runs at twice the rate of each of four others
# (reports.fairshare.shortlist_burst). 0: strict turns for every report.
REPORT_WINDOW_WHOLE = env.int("REPORT_WINDOW_WHOLE", default=30)
if REPORT_WINDOW_WHOLE < 0:
    raise ImproperlyConfigured(
        f"REPORT_WINDOW_WHOLE={REPORT_WINDOW_WHOLE}: it counts sections, from 0 (strict turns)"
    )
# Sections one user's reports may have outstanding (not ended) before a new
# report of theirs waits in `waiting`; a report of a user with nothing
# outstanding always starts. Staff raise it per user in the admin (AnalystQuota). 0: no limit.
REPORT_USER_MAX_OUTSTANDING = env.int("REPORT_USER_MAX_OUTSTANDING", default=9000)
# Minutes needed to be ranked in percentiles (and to be a similar-player
# candidate), per kind of competition: a World Cup player plays at most about
# 840 minutes. Below it a player's figures come with `small_sample` and no ranks.
PERCENTILE_MIN_MINUTES = {
    "league": env.int("PERCENTILE_MIN_MINUTES_LEAGUE", default=900),
    "tournament": env.int("PERCENTILE_MIN_MINUTES_TOURNAMENT", default=270),
}

DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

# --- Exports (exports/) ------------------------------------------------------------
# Debian's Chromium prints the PDF; a setting so that a machine with it
# elsewhere (or a test that needs it to fail) can say where it is.
EXPORT_CHROMIUM_PATH = env.str("EXPORT_CHROMIUM_PATH", default="/usr/bin/chromium")
# A print of a 25-player report takes a few seconds; a Chromium that hangs is
# killed after this and the export fails with that reason.
EXPORT_CHROMIUM_TIMEOUT_S = env.int("EXPORT_CHROMIUM_TIMEOUT_S", default=120)
# An export queued or running this long is taken as lost (its message or worker
# died): asking again fails it and starts a new one. Longer than the task's hard limit.
EXPORT_DEADLINE_S = env.int("EXPORT_DEADLINE_S", default=900)
# Deliveries of one export's task before it fails for good: a task that kills
# its worker every time would otherwise be redelivered forever.
EXPORT_MAX_CLAIMS = env.int("EXPORT_MAX_CLAIMS", default=3)

# --- The report pages (web) ------------------------------------------------------
# Paths, not URL names: other code compares them with request paths.
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# --- Sign-in attempts (django-axes) ----------------------------------------------------
# Every password check (the sign-in page, the admin's, POST /api/auth/token/)
# goes through axes first: after LOGIN_FAILURE_LIMIT failures for one username
# from one address, that pair is refused (429, even with the right password)
# for LOGIN_COOLOFF_MINUTES; a success clears the count. Per pair, not per
# address: behind a proxy every client has the proxy's address (set
# AXES_CLIENT_IP_CALLABLE or django-ipware there, docs/operations.md).
# Operators see the attempts in admin (Axes) and lift a lockout with
# `manage.py axes_reset_username <username>`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.lockout.lockout_response"
# Longest life of a share link, and the default a new one gets.
WEB_SHARE_MAX_DAYS = env.int("WEB_SHARE_MAX_DAYS", default=30)
WEB_SHARE_DEFAULT_DAYS = 7
# Reports per page of the report list.
WEB_REPORTS_PER_PAGE = 25

# --- Scheduled jobs (tasks.jobs) ---------------------------------------------------
# A weekly refit reads every event: far longer than a report section may take.
JOB_SOFT_TIME_LIMIT_S = env.int("JOB_SOFT_TIME_LIMIT_S", default=2 * 60 * 60)
JOB_TIME_LIMIT_S = env.int("JOB_TIME_LIMIT_S", default=JOB_SOFT_TIME_LIMIT_S + 10 * 60)
# The data check stores at most this many problems in JobRun.result (all are logged).
DATA_CHECK_MAX_STORED = 1000

# Every line carries the current task's name and id and its report id
# (tasks.logging); DJANGO_LOG_FORMAT=json writes one JSON object per line.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"task_context": {"()": "tasks.logging.TaskContextFilter"}},
    "formatters": {
        "plain": {"()": "tasks.logging.KeyValueFormatter"},
        "json": {"()": "tasks.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env.str("DJANGO_LOG_FORMAT", default="plain"),
            "filters": ["task_context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    # django-axes: failed sign-ins and lockouts are warnings and stay; its version at every process
    # start and four lines for every successful sign-in (info) go.
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- Wyscout import ------------------------------------------------------------
# Layout (b) keeps one competition's events in one JSON list; it is parsed in
# pieces of this size, so memory stays at a few times this, not at the file.
IMPORT_EVENTS_CHUNK_BYTES = 2 * 1024 * 1024
# Event rows per executemany on SQLite: big enough to amortise the Python
# round trip, small enough to keep a batch's tuples to a few tens of MB.
IMPORT_SQLITE_BATCH_ROWS = 50_000
# Event rows per LOAD DATA LOCAL INFILE on MySQL/MariaDB: each load parses and
# indexes a temporary TSV file; fewer, larger loads are faster.
IMPORT_MYSQL_LOAD_ROWS = 500_000
