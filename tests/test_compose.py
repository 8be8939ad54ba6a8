"""docker-compose.yml, the Procfile and .env.example agree with the contract and hold no secrets."""

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ("migrate", "web", "worker-fast", "worker-slow", "beat", "flower")

# CONTRACT section 6, word for word.
WORKER = "celery -A config worker -Q {queue} --autoscale=6,1 -n {queue}@%h"
BEAT = "celery -A config beat --scheduler django_celery_beat.schedulers:DatabaseScheduler"
FLOWER = "celery -A config flower"

# CONTRACT section 2.
CONTRACT_VARIABLES = (
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_VAR_DIR",
    "DATABASE_URL",
    "FOOTBALL_DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "REDIS_URL",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_S3_REGION_NAME",
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DJANGO_SECURE_SSL_REDIRECT",
    "CORS_ALLOWED_ORIGINS",
    "FLOWER_BASIC_AUTH",
)
# Host names an example may use: the compose services, the loopback, example domains.
EXAMPLE_HOSTS = {"mysql", "rabbitmq", "redis", "minio", "localhost", "127.0.0.1"}
SECRET_NAME = re.compile(r"PASSWORD|PASS$|SECRET|_KEY|BASIC_AUTH|ACCESS_KEY")


def command(service: str) -> str:
    value = SERVICES[service]["command"]
    return value if isinstance(value, str) else shlex.join(value)


def env_example() -> dict[str, str]:
    pairs = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def procfile() -> dict[str, str]:
    entries = {}
    for line in (REPO / "Procfile").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, cmd = line.partition(":")
            entries[name.strip()] = cmd.strip()
    return entries


def test_the_whole_stack_is_there():
    assert set(SERVICES) >= {
        "mysql",
        "rabbitmq",
        "redis",
        "minio",
        "createbucket",
        *APP_SERVICES,
    }
    assert SERVICES["mysql"]["image"].startswith("mysql:8")
    assert SERVICES["rabbitmq"]["image"] == "rabbitmq:3-management"


@pytest.mark.parametrize("queue", ["fast", "slow"])
def test_workers_follow_the_contract(queue):
    for cmd in (command(f"worker-{queue}"), procfile()[f"worker-{queue}"]):
        assert cmd.startswith(WORKER.format(queue=queue))
        assert cmd.count("-Q ") == 1


def test_beat_and_flower_follow_the_contract():
    assert command("beat").startswith(BEAT)
    assert procfile()["beat"].startswith(BEAT)
    for cmd in (command("flower"), procfile()["flower"]):
        assert cmd.startswith(FLOWER)
        # flowerconfig.py is what refuses to start without FLOWER_BASIC_AUTH.
        assert "--conf=flowerconfig.py" in cmd
        assert "basic_auth" not in cmd.lower()
    assert (REPO / "flowerconfig.py").is_file()
    # Inside its container Flower binds all interfaces; the host publishes it on loopback only.
    assert SERVICES["flower"]["ports"] == ["127.0.0.1:5555:5555"]
    assert "FLOWER_BASIC_AUTH" not in SERVICES["flower"].get("environment", {})


def test_one_beat_only():
    beats = [name for name in SERVICES if "command" in SERVICES[name] and " beat" in command(name)]
    assert beats == ["beat"]
    assert "replicas" not in str(SERVICES["beat"].get("deploy", {}))


def test_app_services_take_their_configuration_from_the_env_file():
    for name in APP_SERVICES:
        service = SERVICES[name]
        assert service["env_file"] == ".env", name
        assert service["environment"]["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    for name in ("mysql", "rabbitmq", "redis", "minio", "createbucket"):
        assert SERVICES[name]["env_file"] == ".env", name


def test_no_credentials_in_the_compose_file():
    text = (REPO / "docker-compose.yml").read_text()
    # No user:password@ in any URL.
    assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", text)
    for name, service in SERVICES.items():
        environment = service.get("environment", {})
        assert isinstance(environment, dict), name
        for key, value in environment.items():
            assert not SECRET_NAME.search(key), f"{name} sets {key} inline"
            assert "@" not in str(value), f"{name}: {key}"
    # Secrets reach the containers' shells as variables ($$NAME), never as text.
    assert "$$MYSQL_ROOT_PASSWORD" in text and "$$REDIS_PASSWORD" in text and "$$MINIO_ROOT_PASSWORD" in text


def test_dependencies_wait_for_health_and_one_shot_jobs():
    long_running = {"mysql", "rabbitmq", "redis", "minio", "web", "worker-fast", "worker-slow", "flower"}
    for name in long_running:
        assert "healthcheck" in SERVICES[name], f"{name} has no healthcheck"
    for name, service in SERVICES.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
            expected = (
                "service_completed_successfully"
                if dependency in ("migrate", "createbucket")
                else "service_healthy"
            )
            assert rule == {"condition": expected}, f"{name} -> {dependency}"
    for name in ("web", "worker-fast", "worker-slow", "beat"):
        assert {"migrate", "rabbitmq", "redis", "createbucket"} <= set(SERVICES[name]["depends_on"])
    assert "mysql" in SERVICES["migrate"]["depends_on"]


def test_named_volumes_keep_the_data():
    declared = set(COMPOSE["volumes"])
    for name, path in [
        ("mysql", "/var/lib/mysql"),
        ("rabbitmq", "/var/lib/rabbitmq"),
        ("redis", "/data"),
        ("minio", "/data"),
        ("web", "/var/lib/football"),
    ]:
        mounts = dict(volume.split(":", 1)[::-1] for volume in SERVICES[name]["volumes"])
        assert mounts[path] in declared, name


def test_the_image_carries_its_static_files_outside_every_volume():
    """collectstatic runs at build time, after the code is copied, into a folder no app volume
    hides: a volume over it would keep the first release's files, and every later release's pages
    would name hashed files that are not there."""
    dockerfile = (REPO / "Dockerfile").read_text()
    static_root = re.search(r"DJANGO_STATIC_ROOT=(\S+)", dockerfile)
    assert static_root, "the image sets DJANGO_STATIC_ROOT"
    collect = dockerfile.index("manage.py collectstatic --noinput")
    assert dockerfile.index("COPY --chown=football:football . /app") < collect
    assert dockerfile[dockerfile.rindex("\n", 0, collect) :].lstrip().startswith("RUN")
    for name in APP_SERVICES:
        for volume in SERVICES[name].get("volumes", []):
            mount = volume.split(":")[1]
            assert not static_root[1].startswith(mount.rstrip("/") + "/"), (name, mount)
        assert "DJANGO_STATIC_ROOT" not in SERVICES[name].get("environment", {}), name
    assert "DJANGO_STATIC_ROOT" not in env_example()


def test_env_example_documents_every_contract_variable_with_safe_values():
    documented = env_example()
    missing = [name for name in CONTRACT_VARIABLES if name not in documented]
    assert not missing
    for name, value in documented.items():
        if SECRET_NAME.search(name) and name != "AWS_ACCESS_KEY_ID":
            assert "replace-with" in value, f"{name} holds what looks like a real secret"
        for url in re.findall(r"[a-z0-9+]+://[^\s,]+", value):
            parts = urlsplit(url)
            host = parts.hostname or ""
            assert host in EXAMPLE_HOSTS or host.endswith("example.org"), f"{name}: {host}"
            if parts.password:
                assert parts.password.startswith("replace-with"), name
    for host in documented["DJANGO_ALLOWED_HOSTS"].split(","):
        assert host in EXAMPLE_HOSTS or host.endswith("example.org")
    # The compose accounts agree with the URLs that use them.
    assert urlsplit(documented["DATABASE_URL"]).password == documented["MYSQL_PASSWORD"]
    assert urlsplit(documented["CELERY_BROKER_URL"]).password == documented["RABBITMQ_DEFAULT_PASS"]
    assert urlsplit(documented["REDIS_URL"]).password == documented["REDIS_PASSWORD"]


def test_env_example_is_not_the_env_file():
    ignored = (REPO / ".gitignore").read_text().split()
    assert ".env" in ignored


def test_docker_compose_accepts_the_file(tmp_path):
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copy(REPO / ".env.example", tmp_path / ".env")
    checked = subprocess.run(
        ["docker-compose", "config", "-q"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0, checked.stderr
