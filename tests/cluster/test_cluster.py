"""Scale-out across hosts: a services host, a web host and two worker hosts, built with network namespaces.

`make test-cluster` (root; CI runs it after `make test`). Every host is configured by environment
variables only, as a deployment would be (`config.settings.production`): the database, broker, Redis
and S3 are addresses on the services host, each host has its own var folder, nothing is shared but
the network. The test shows that

- a report's sections are spread over both worker hosts (each task record's `claimed_by` names the
  host and process that ran it);
- pulling one worker host's cable mid-report loses nothing: the broker notices by its heartbeats
  and requeues the host's unacknowledged messages for the other host, the sections the lost host had
  claimed are taken over by the reconciler after the reclaim time, the report completes and every
  section is counted once;
- the host, plugged in again, rejoins and takes work.

The times it measures (the broker noticing, the takeover, the rejoin) are printed and written to
`var/cluster/result.json`; docs/operations.md quotes them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC
from pathlib import Path

import pytest
import requests

from conftest import DEMO_DATA, REPO, need, port_open, process_groups_stop, wait_for
from tests.cluster import netns

PYTHON = sys.executable
BIN = Path(PYTHON).parent
WORKER_HOSTS = ("w1", "w2")
WEB_PORT = 8000
S3_PORT = 5000
START_TIMEOUT_S = 120
# Short enough for a test of a few minutes; the production defaults and why
# they are what they are: docs/operations.md, "Scaling out".
HEARTBEAT_S = 10
TIME_LIMIT_S = 35
RECLAIM_AFTER_S = 40
REPORT_TIMEOUT_S = 300
# The machine's servers, on loopback; the services host forwards to them.
FORWARDED_PORTS = (3306, 5672, 6379)
REDIS_CACHE_DB, REDIS_RESULTS_DB = 10, 11
# Every fast section and the light slow ones. Not `visuals` (matplotlib) or
# `expected_threat`: on a loaded 2-core machine running 24 worker processes
# they can take longer than the test's short time limit, which the reclaim
# time (and so the test's length) follows.
SECTIONS = ["profile", "season_stats", "match_log", "shot_map", "heatmap", "percentiles", "similar_players"]
# Sections each worker host has finished when the test pulls w1's cable.
DONE_BEFORE_CUT = 10
NAMESPACE_MARKER = "-clu"  # every namespace of this test has it in its name

pytestmark = pytest.mark.slow


def _mysql(database: str | None = None):
    import MySQLdb

    return MySQLdb.connect(host="127.0.0.1", user="root", database=database or "", autocommit=True)


def _rabbitmqctl(*args: str) -> str:
    return subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=True
    ).stdout


class Host:
    """The processes started on one host; stopped (their whole process group) by `stop`."""

    def __init__(self, cluster: netns.Cluster, name: str | None, log_dir: Path):
        self.cluster, self.name, self.log_dir = cluster, name, log_dir
        self.processes: list[tuple[subprocess.Popen, Path]] = []

    def start(self, label: str, args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
        log = self.log_dir / f"{self.name or 'services'}-{label}.log"
        with log.open("ab") as handle:
            process = subprocess.Popen(
                self.cluster.command(self.name, args),
                cwd=REPO,
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.processes.append((process, log))
        return process, log

    def run(self, label: str, args: list[str], env: dict[str, str], timeout: float = 300) -> None:
        process, log = self.start(label, args, env)
        if process.wait(timeout=timeout) != 0:
            pytest.fail(f"{' '.join(args)} on {self.name} failed; see {log}")

    def stop(self) -> None:
        process_groups_stop([process for process, _ in reversed(self.processes)])


def _wait(condition, *, timeout: float, what: str, interval: float = 0.2):
    return wait_for(condition, timeout=timeout, interval=interval, message=what)


def _host_env(base: dict[str, str], *, host: str, database: str, vhost: str, bucket: str, var: Path) -> dict:
    services = netns.SERVICES_ADDRESS
    env = {
        key: value
        for key, value in base.items()
        if not key.startswith(
            ("AWS_", "CELERY_", "DJANGO_", "DATABASE_URL", "FOOTBALL_", "REDIS_URL", "TEST_")
        )
    }
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": base["CLUSTER_SECRET_KEY"],
            "DJANGO_ALLOWED_HOSTS": netns.SUBNET + ".2",
            # Plain HTTP inside the cluster, as behind a TLS proxy.
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_VAR_DIR": str(var / host),
            "DATABASE_URL": f"mysql://root@{services}:3306/{database}",
            "CELERY_BROKER_URL": f"amqp://guest:guest@{services}:5672/{vhost}",
            "CELERY_RESULT_BACKEND": f"redis://{services}:6379/{REDIS_RESULTS_DB}",
            "REDIS_URL": f"redis://{services}:6379/{REDIS_CACHE_DB}",
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": f"http://{services}:{S3_PORT}",
            "AWS_ACCESS_KEY_ID": "cluster",
            "AWS_SECRET_ACCESS_KEY": "cluster",
            "AWS_S3_REGION_NAME": "us-east-1",
            "CELERY_BROKER_HEARTBEAT": str(HEARTBEAT_S),
            "CELERY_TASK_SOFT_TIME_LIMIT": str(TIME_LIMIT_S - 5),
            "CELERY_TASK_TIME_LIMIT": str(TIME_LIMIT_S),
            "REPORT_TASK_RECLAIM_AFTER_S": str(RECLAIM_AFTER_S),
        }
    )
    return env


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    need(os.geteuid() == 0, "the cluster test builds network namespaces: it needs root")
    need(shutil.which("ip") is not None and shutil.which("unshare") is not None, "ip and unshare are missing")
    need(shutil.which("rabbitmqctl") is not None, "rabbitmqctl is missing (the test makes its own vhost)")
    for name, port in (("mariadb", 3306), ("rabbitmq", 5672), ("redis", 6379)):
        need(port_open("127.0.0.1", port), f"{name} is not reachable on 127.0.0.1:{port}")
    for stale in netns.stale_namespaces(NAMESPACE_MARKER):
        subprocess.run(["ip", "netns", "del", stale], capture_output=True)

    run = uuid.uuid4().hex[:6]
    database, vhost, bucket = f"cluster_{run}", f"cluster-{run}", f"cluster-{run}"
    var = REPO / "var" / "cluster" / run
    log_dir = var / "logs"
    log_dir.mkdir(parents=True)
    layout = netns.Cluster(f"c{run[:4]}{NAMESPACE_MARKER}", ["web", *WORKER_HOSTS])
    hosts = {name: Host(layout, name, log_dir) for name in [None, "web", *WORKER_HOSTS]}
    forwarder = None
    try:
        layout.create()
        _mysql().cursor().execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
        _rabbitmqctl("add_vhost", vhost)
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        with (log_dir / "forwarder.log").open("wb") as handle:
            forwarder = subprocess.Popen(
                [PYTHON, str(Path(netns.__file__)), layout.services, netns.SERVICES_ADDRESS]
                + [str(port) for port in FORWARDED_PORTS],
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait(
            lambda: b"forwarding" in (log_dir / "forwarder.log").read_bytes(),
            timeout=30,
            what="the forwarder",
        )

        base = {**os.environ, "CLUSTER_SECRET_KEY": secrets.token_urlsafe(40)}
        envs = {
            name: _host_env(base, host=name, database=database, vhost=vhost, bucket=bucket, var=var)
            for name in ["web", *WORKER_HOSTS]
        }
        s3 = f"http://{netns.SERVICES_ADDRESS}:{S3_PORT}"
        hosts[None].start(
            "moto", [str(BIN / "moto_server"), "-H", netns.SERVICES_ADDRESS, "-p", str(S3_PORT)], base
        )

        def bucket_create() -> bool:
            import boto3

            client = boto3.client(
                "s3",
                endpoint_url=s3,
                aws_access_key_id="c",
                aws_secret_access_key="c",
                region_name="us-east-1",
            )
            try:
                client.create_bucket(Bucket=bucket)
            except Exception:  # not listening yet
                return False
            return True

        _wait(
            lambda: netns.in_netns(layout.services, bucket_create),
            timeout=60,
            what="moto on the services host",
        )

        # The deployment's own steps, run on the web host.
        web = hosts["web"]
        manage = [PYTHON, "manage.py"]
        web.run("migrate", [*manage, "migrate", "--noinput", "-v", "0"], envs["web"])
        web.run("import", [*manage, "import_wyscout", str(DEMO_DATA)], envs["web"], timeout=600)
        web.run("schedules", [*manage, "setup_schedules"], envs["web"])
        password = secrets.token_urlsafe(16)
        web.run(
            "superuser",
            [*manage, "createsuperuser", "--noinput", "--username", "analyst", "--email", "a@example.org"],
            {**envs["web"], "DJANGO_SUPERUSER_PASSWORD": password},
        )
        web.start(
            "gunicorn",
            [
                str(BIN / "gunicorn"),
                "config.wsgi",
                "--bind",
                f"{layout.addresses['web']}:{WEB_PORT}",
                "--workers",
                "2",
                "--worker-class",
                "gthread",
                "--threads",
                "4",
            ],
            envs["web"],
        )
        web.start(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "config",
                "beat",
                "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler",
                "-s",
                str(var / "web" / "beat-schedule"),
            ],
            envs["web"],
        )
        workers = []
        for name in WORKER_HOSTS:
            for queue in ("fast", "slow"):
                # CONTRACT section 6, on each worker host.
                args = [str(BIN / "celery"), "-A", "config", "worker", "-Q", queue, "--autoscale=6,1"]
                workers.append(
                    hosts[name].start(queue, [*args, "-n", f"{queue}@%h", "-l", "INFO"], envs[name])
                )
        for process, log in workers:
            _wait(
                lambda log=log: b" ready." in log.read_bytes(),
                timeout=START_TIMEOUT_S,
                what=f"worker {log.name}",
            )
            assert process.poll() is None, log.read_text()[-3000:]

        api = f"http://{layout.addresses['web']}:{WEB_PORT}/api"

        def token() -> str | None:
            try:
                answer = requests.post(
                    f"{api}/auth/token/", data={"username": "analyst", "password": password}, timeout=5
                )
            except requests.RequestException:
                return None
            return answer.json()["token"] if answer.status_code == 200 else None

        key = _wait(lambda: netns.in_netns(layout.services, token), timeout=START_TIMEOUT_S, what="gunicorn")
        yield {
            "layout": layout,
            "api": api,
            "headers": {"Authorization": f"Token {key}"},
            "database": database,
            "vhost": vhost,
            "var": var,
        }
    finally:
        for host in hosts.values():
            host.stop()
        if forwarder is not None:
            os.killpg(forwarder.pid, signal.SIGTERM)
            forwarder.wait(timeout=20)
        layout.delete()
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True, timeout=60)
        try:
            _mysql().cursor().execute(f"DROP DATABASE IF EXISTS `{database}`")
        except Exception as exc:  # the namespaces are gone already; say what is left
            print(f"cluster: could not drop {database}: {exc}")


def _call(cluster, method: str, path: str, **kwargs):
    def call():
        return requests.request(
            method, f"{cluster['api']}{path}", headers=cluster["headers"], timeout=30, **kwargs
        )

    answer = netns.in_netns(cluster["layout"].services, call)
    assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text[:500]}"
    return answer.json()


def _squad(cluster, team: str) -> list[int]:
    found = _call(cluster, "GET", "/teams/", params={"search": team})["results"]
    detail = _call(cluster, "GET", f"/teams/{found[0]['id']}/")
    return [player["id"] for player in detail["squad"]]


def _records(cluster, report_id: str) -> list[dict]:
    connection = _mysql(cluster["database"])
    try:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT id, section, queue, state, reused, attempts, claimed_by, started_at, error"
            " FROM reports_reporttask"
            " WHERE report_id = %s",
            [report_id.replace("-", "")],
        )
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()


def _report_row(cluster, report_id: str) -> dict:
    connection = _mysql(cluster["database"])
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT * FROM reports_report WHERE id = %s", [report_id.replace("-", "")])
        columns = [column[0] for column in cursor.description]
        return dict(zip(columns, cursor.fetchone(), strict=True))
    finally:
        connection.close()


def _host_of(record: dict) -> str:
    return record["claimed_by"].rpartition(":")[0]


def _consumers(cluster) -> dict[str, int]:
    """Consumers of the `fast` and `slow` queues, as RabbitMQ counts them."""
    listed = _rabbitmqctl("list_queues", "-p", cluster["vhost"], "name", "consumers")
    counts = {}
    for line in listed.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] in ("fast", "slow") and fields[1].isdigit():
            counts[fields[0]] = int(fields[1])
    return counts


def _assert_counted_once(cluster, report_id: str, records: list[dict]) -> None:
    row = _report_row(cluster, report_id)
    assert [(r["section"], r["state"], r["error"]) for r in records if r["state"] != "done"] == []
    assert row["status"] == "complete", row["status"]
    for queue in ("fast", "slow"):
        mine = [r for r in records if r["queue"] == queue]
        assert row[f"{queue}_total"] == len(mine)
        assert row[f"{queue}_done"] == len(mine), (queue, row[f"{queue}_done"], len(mine))
        assert row[f"{queue}_failed"] == 0
        assert row[f"{queue}_reused"] == sum(1 for r in mine if r["reused"])
    status = _call(cluster, "GET", f"/reports/{report_id}/")
    assert status["progress"]["percent"] == 100


def test_a_report_spreads_over_two_worker_hosts_and_survives_losing_one(cluster):
    layout = cluster["layout"]
    players = _squad(cluster, "France")
    assert len(players) >= 20
    report = _call(
        cluster,
        "POST",
        "/reports/",
        json={"name": "France over two hosts", "players": players, "sections": SECTIONS},
    )
    report_id = report["id"]
    started = time.monotonic()

    # Cut w1 off while it runs a section, once both hosts have finished a few.
    def running_on_w1():
        records = _records(cluster, report_id)
        done = [_host_of(r) for r in records if r["state"] == "done" and not r["reused"]]
        held = [r["id"] for r in records if r["state"] == "running" and _host_of(r) == "w1"]
        both = all(done.count(host) >= DONE_BEFORE_CUT for host in WORKER_HOSTS)
        return held if both and held else None

    _wait(running_on_w1, timeout=REPORT_TIMEOUT_S, what="a section running on w1", interval=0.05)
    layout.link("w1", up=False)
    cut, cut_at = time.monotonic(), time.time()
    # Read again after the cut: what w1 had claimed when it went (the claim may have moved in between).
    in_flight = [
        r["id"] for r in _records(cluster, report_id) if r["state"] == "running" and _host_of(r) == "w1"
    ]
    print(
        f"\ncluster: cut w1 {cut - started:.1f} s after the POST, holding {len(in_flight)} running sections"
    )

    # The broker notices by heartbeats: each queue is down to w2's consumer.
    _wait(
        lambda: _consumers(cluster) == {"fast": 1, "slow": 1},
        timeout=10 * HEARTBEAT_S,
        what="RabbitMQ to drop w1's consumers",
        interval=0.5,
    )
    noticed_s = time.monotonic() - cut

    def complete():
        return _report_row(cluster, report_id)["completed_at"] is not None

    _wait(complete, timeout=REPORT_TIMEOUT_S, what="the report to complete without w1", interval=0.5)
    completed_s = time.monotonic() - cut

    records = _records(cluster, report_id)
    _assert_counted_once(cluster, report_id, records)
    computed = [r for r in records if not r["reused"]]
    hosts = {_host_of(r) for r in computed}
    assert hosts == {"w1", "w2"}, hosts
    by_id = {r["id"]: r for r in records}
    for record_id in in_flight:
        # Taken over by w2 after the reclaim time: attempt 2, done there.
        assert _host_of(by_id[record_id]) == "w2", by_id[record_id]
        assert by_id[record_id]["attempts"] >= 2, by_id[record_id]
    # When w2 claimed them: the reclaim time after w1's claim, at the reconciler's next minute.
    taken_over_s = [
        round(by_id[i]["started_at"].replace(tzinfo=UTC).timestamp() - cut_at, 1) for i in in_flight
    ]
    spread = {host: sum(1 for r in computed if _host_of(r) == host) for host in sorted(hosts)}

    # Plugged in again, w1's workers reconnect and take work.
    layout.link("w1", up=True)
    plugged = time.monotonic()
    _wait(
        lambda: _consumers(cluster) == {"fast": 2, "slow": 2},
        timeout=120,
        what="w1's workers to reconnect",
        interval=0.5,
    )
    rejoined_s = time.monotonic() - plugged
    others = _squad(cluster, "Belgium")
    second = _call(
        cluster,
        "POST",
        "/reports/",
        json={
            "name": "after the rejoin",
            "players": others,
            "sections": ["profile", "season_stats", "match_log"],
        },
    )
    _wait(
        lambda: _report_row(cluster, second["id"])["completed_at"] is not None,
        timeout=120,
        what="the second report",
    )
    second_records = _records(cluster, second["id"])
    _assert_counted_once(cluster, second["id"], second_records)
    second_spread = {
        h: sum(1 for r in second_records if _host_of(r) == h and not r["reused"]) for h in WORKER_HOSTS
    }
    assert second_spread["w1"] > 0, second_spread

    result = {
        "sections_by_host": spread,
        "in_flight_on_w1_at_cut": len(in_flight),
        "broker_noticed_s": round(noticed_s, 1),
        "taken_over_after_cut_s": taken_over_s,
        "complete_after_cut_s": round(completed_s, 1),
        "rejoined_s": round(rejoined_s, 1),
        "second_report_by_host": second_spread,
        "heartbeat_s": HEARTBEAT_S,
        "reclaim_after_s": RECLAIM_AFTER_S,
    }
    (REPO / "var" / "cluster" / "result.json").write_text(json.dumps(result, indent=2))
    print("cluster:", json.dumps(result))
