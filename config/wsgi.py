import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

application = get_wsgi_application()

# Django imports the URLconf, and with it every view, on the first request:
# import it now, so the first user after a deploy or a worker restart does not
# wait for it (0.3 s; 1.2 s before the drawing libraries were made lazy).
import_module(settings.ROOT_URLCONF)

# Everything loaded so far lives as long as the process. A full collection
# walked all of it, about 130,000 objects and 75 ms, with every thread of the
# process held meanwhile: those were the slowest status answers under load
# (docs/performance.md). Frozen, the collector leaves it alone.
gc.freeze()
