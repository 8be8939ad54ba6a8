"""Adds the schedules of the reconciler (every minute) and the weekly storage audit.

The same schedules_ensure as 0002: get_or_create by name, so the rows that
exist are left as they are and only the new jobs' rows are created.
"""

from django.db import migrations


def create_schedules(apps, schema_editor):
    from tasks.jobs import schedules_ensure

    schedules_ensure(
        apps.get_model("django_celery_beat", "CrontabSchedule"),
        apps.get_model("django_celery_beat", "PeriodicTask"),
    )


class Migration(migrations.Migration):
    dependencies = [("tasks", "0002_schedules")]

    operations = [migrations.RunPython(create_schedules, migrations.RunPython.noop)]
