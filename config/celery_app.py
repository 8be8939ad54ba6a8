"""The Celery application, configured from Django settings (namespace CELERY)."""

import logging
import os

from celery import Celery
from celery.signals import setup_logging

from tasks import connections, priority, warmup  # noqa: F401  (connect their worker signals)
from tasks.pool import guard_autoscale_race

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
guard_autoscale_race()


def embedded_folders() -> list[str]:
    """The folders the embedded default's broker and result backend need."""
    from django.conf import settings

    folders: list[str] = []
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        folders += [str(options[name]) for name in ("data_folder_in", "processed_folder", "control_folder")]
    if settings.CELERY_RESULT_BACKEND.startswith("file://"):
        folders.append(settings.CELERY_RESULT_BACKEND.removeprefix("file://"))
    return folders


@app.on_after_configure.connect
def _create_embedded_folders(sender, **kwargs):
    # The filesystem transport and the file backend expect their folders to exist.
    for folder in embedded_folders():
        os.makedirs(folder, exist_ok=True)


@setup_logging.connect
def _use_django_logging(loglevel=None, **kwargs):
    """Let Django's LOGGING shape worker logs: task and report ids on every line (tasks.logging).

    With a receiver connected Celery installs no handlers of its own; the
    worker's --loglevel still sets the level.
    """
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)
