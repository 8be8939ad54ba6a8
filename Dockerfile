# One image for every process of the stack (web, workers, beat, Flower, migrate);
# docker-compose.yml picks the command. Configuration comes from the
# environment (.env.example), never from the image.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    DJANGO_VAR_DIR=/var/lib/football \
    DJANGO_STATIC_ROOT=/app/static

# mysqlclient builds against libmariadb; the build tools go once the wheels are in.
# Debian's chromium (with a font) prints the report PDFs in the slow workers.
COPY requirements.txt requirements-mysql.txt /tmp/requirements/
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmariadb3 libmariadb-dev pkg-config gcc \
        chromium fonts-dejavu-core \
    && pip install -r /tmp/requirements/requirements.txt -r /tmp/requirements/requirements-mysql.txt \
    && apt-get purge -y --auto-remove libmariadb-dev pkg-config gcc \
    && rm -rf /var/lib/apt/lists/* /tmp/requirements

RUN useradd --system --create-home --home-dir /home/football football \
    && install -d -o football -g football /var/lib/football
WORKDIR /app
COPY --chown=football:football . /app
# The static files (hashed, compressed) belong to the release, so they are built
# into the image, outside the var folder: docker-compose mounts a volume there,
# which would keep the first release's files and hide every later one's. The
# key only lets the production settings load; collectstatic signs nothing.
RUN DJANGO_SECRET_KEY=collectstatic-build-only python manage.py collectstatic --noinput -v 0
USER football

EXPOSE 8000 5555
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
