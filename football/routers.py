"""Routes the football tables to the `football` database when one is configured.

By default there is no such alias and everything lives in `default`.
"""

from django.conf import settings

FOOTBALL_APPS = {"football"}


def football_db() -> str:
    return "football" if "football" in settings.DATABASES else "default"


class FootballRouter:
    def db_for_read(self, model, **hints):
        if model._meta.app_label in FOOTBALL_APPS:
            return football_db()
        return None

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if football_db() == "default":
            return None
        if app_label in FOOTBALL_APPS:
            return db == "football"
        return db == "default"
