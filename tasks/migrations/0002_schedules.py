"""Creates the periodic tasks of the scheduled jobs (CONTRACT section 8).

The rows come from tasks.jobs.SCHEDULED_JOBS through schedules_ensure, the
same code as `manage.py setup_schedules`; get_or_create by name, so
re-running changes nothing and an operator's edits in the admin survive.
"""

from django.db import migrations


def create_schedules(apps, schema_editor):
    from tasks.jobs import schedules_ensure

    schedules_ensure(
        apps.get_model("django_celery_beat", "CrontabSchedule"),
        apps.get_model("django_celery_beat", "PeriodicTask"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0001_job_run"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, migrations.RunPython.noop)]
