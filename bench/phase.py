"""One stack's measurements, in a process of its own: `python -m bench.phase STACK --out FILE`.

Django fixes its databases, broker and storage when it starts, so each stack
runs in its own process with its own environment:

- `production`: the services of the environment (MariaDB, RabbitMQ, Redis)
  with S3 on a moto server started here. The football tables stay in the
  football database (FOOTBALL_DATABASE_URL); the app tables (reports, tasks,
  users) go to a bench-only database, dropped and created each run, so
  nothing is reused from an earlier run and no user data is touched. Messages
  go through the bench's own RabbitMQ virtual host.
- `embedded`: the embedded default (SQLite, the filesystem broker, file
  results, local files) in var/bench/embedded, over the World Cup demo data.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

from . import stack

# Defaults for the services of this kind of machine; the environment overrides each.
DEFAULT_FOOTBALL_DATABASE_URL = "mysql://root@127.0.0.1:3306/football"
DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_RESULT_BACKEND = "redis://127.0.0.1:6379/12"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
BENCH_APP_DATABASE = "football_bench_app"

# The squads measured: a real 2017/18 club squad on the full data, and the
# demo data's France (World Cup 2018) on the embedded stack.
SQUAD_TEAM, SQUAD_COMPETITION, SQUAD_SIZE = "Manchester City", 364, 25
OTHER_TEAM, OTHER_COMPETITION, OTHER_SIZE = "Barcelona", 795, 8
EMBEDDED_TEAM, EMBEDDED_COMPETITION = "France", 28
BIG_REPORT_PLAYERS = 500
# Report sizes whose cold ready time is measured (big_ready): with the squad's
# 25, how the time grows with the players.
BIG_READY_SIZES = (100, BIG_REPORT_PLAYERS)
# The groups of measurements `--only` may name (all of them without it).
GROUPS = ("sections", "tasks", "squad", "pollers", "big", "fair")
POLLERS, POLL_SECONDS = 100, 20


def _common_env(var_dir: Path) -> dict[str, str]:
    return {
        "DJANGO_VAR_DIR": str(var_dir),
        # The create figures measure the API, not the throttle's 60 a minute.
        "THROTTLE_REPORT_CREATE": "1000000/min",
        "THROTTLE_USER": "10000000/min",
        "PYTHONPATH": str(stack.REPO),
    }


def production_env(base: dict[str, str], var_dir: Path) -> tuple[dict[str, str], list[str]]:
    """The production-like environment, from `base` (the caller's environment) and this machine's defaults."""
    notes = []
    football = base.get("FOOTBALL_DATABASE_URL") or base.get("DATABASE_URL") or ""
    if not football.startswith("mysql"):
        football = DEFAULT_FOOTBALL_DATABASE_URL
    app = base.get("BENCH_APP_DATABASE_URL") or stack.mysql_url_with_database(football, BENCH_APP_DATABASE)
    broker = base.get("CELERY_BROKER_URL") or ""
    if not broker.startswith("amqp"):
        broker = DEFAULT_BROKER_URL
    broker, vhost_note = stack.rabbitmq_bench_url(broker)
    notes.append(f"broker: {vhost_note}")
    env = {
        key: value
        for key, value in base.items()
        if not key.startswith(
            ("AWS_", "CELERY_", "DJANGO_", "DATABASE_URL", "FOOTBALL_DATABASE_URL", "REDIS_URL")
        )
    }
    env.update(_common_env(var_dir))
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
            # gunicorn is reached over plain HTTP on 127.0.0.1, as behind a TLS proxy.
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": app,
            "FOOTBALL_DATABASE_URL": football,
            "CELERY_BROKER_URL": broker,
            "CELERY_RESULT_BACKEND": base.get("CELERY_RESULT_BACKEND") or DEFAULT_RESULT_BACKEND,
            "REDIS_URL": base.get("REDIS_URL") or DEFAULT_REDIS_URL,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_S3_REGION_NAME": "us-east-1",
            "AWS_STORAGE_BUCKET_NAME": f"bench-{uuid.uuid4().hex[:10]}",
        }
    )
    return env, notes


def embedded_env(base: dict[str, str], var_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in base.items()
        if not key.startswith(
            ("AWS_", "CELERY_", "DJANGO_", "DATABASE_URL", "FOOTBALL_DATABASE_URL", "REDIS_URL")
        )
    }
    env.update(_common_env(var_dir))
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    return env


ONLY_HELP = (
    f"measure only these groups, comma-separated, of {', '.join(GROUPS)} (for a quick look while working;"
    " the figures of record come from a whole run)"
)


def groups_parse(text: str) -> frozenset[str]:
    chosen = frozenset(name.strip() for name in text.split(",") if name.strip())
    unknown = chosen - set(GROUPS)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown groups {sorted(unknown)}; choose from {', '.join(GROUPS)}")
    return chosen


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{':' + str(parts.port) if parts.port else ''}{parts.path}"


def run_production(out: Path, only: frozenset[str]) -> dict:
    var_dir = stack.REPO / "var" / "bench" / "production"
    log_dir = var_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env, notes = production_env(dict(os.environ), var_dir)
    figures: dict = {"stack.production.notes": "; ".join(notes)}
    with ExitStack() as cleanup:
        moto, endpoint = stack.moto_start(log_dir)
        cleanup.callback(moto.stop)
        env["AWS_S3_ENDPOINT_URL"] = endpoint
        stack.s3_bucket_create(endpoint=endpoint, bucket=env["AWS_STORAGE_BUCKET_NAME"])
        stack.mysql_database_recreate(env["DATABASE_URL"])
        os.environ.clear()
        os.environ.update(env)
        figures.update(
            {
                "stack.production.database": _safe_url(env["DATABASE_URL"]),
                "stack.production.football_database": _safe_url(env["FOOTBALL_DATABASE_URL"]),
                "stack.production.broker": _safe_url(env["CELERY_BROKER_URL"]),
                "stack.production.result_backend": _safe_url(env["CELERY_RESULT_BACKEND"]),
                "stack.production.storage": "S3 on moto_server (in memory, local HTTP)",
            }
        )
        figures.update(
            _measure(env, log_dir, cleanup, production=True, cpu_roots={"moto": moto.popen.pid}, only=only)
        )
    return figures


def run_embedded(out: Path, only: frozenset[str]) -> dict:
    var_dir = stack.REPO / "var" / "bench" / "embedded"
    log_dir = var_dir / "logs"
    # A fresh var folder: an empty database, broker folders and media each run.
    shutil.rmtree(var_dir, ignore_errors=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    env = embedded_env(dict(os.environ), var_dir)
    os.environ.clear()
    os.environ.update(env)
    with ExitStack() as cleanup:
        return _measure(env, log_dir, cleanup, production=False, only=only)


def _measure(
    env: dict[str, str],
    log_dir: Path,
    cleanup: ExitStack,
    *,
    production: bool,
    cpu_roots: dict[str, int] | None = None,
    only: frozenset[str] = frozenset(GROUPS),
) -> dict:
    import django

    django.setup()
    import logging

    # The measured merge fetches with more threads than boto3's pool (10): the
    # warning per discarded connection would drown the bench's own lines.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    from django.conf import settings
    from django.core.management import call_command

    from . import measures
    from .results import rounded

    say = measures.say
    figures: dict = {}
    say("migrating the app tables, collecting the static files...")
    call_command("migrate", interactive=False, verbosity=0)
    # The production settings serve hashed files from a manifest, as `make run`
    # does after its collectstatic: without it every page is a 500.
    call_command("collectstatic", interactive=False, verbosity=0)
    if production and "football" in settings.DATABASES:
        figures["stack.production.football_router"] = "football tables via FOOTBALL_DATABASE_URL"
    if not production:
        from football.importer.services import wyscout_import

        demo = stack.REPO / "demo" / "wyscout-world-cup-2018.tar.xz"
        say("importing the World Cup demo data and fitting its models...")
        started = time.perf_counter()
        wyscout_import(path=demo)
        figures["import_demo_s"] = rounded(time.perf_counter() - started)
        call_command("refresh_analytics", verbosity=0)
        from football.models import Team
        from football.selectors import squad_player_ids

        squad = squad_player_ids(
            team_id=Team.objects.get(name=EMBEDDED_TEAM).pk, competition_id=EMBEDDED_COMPETITION
        )
        label = f"{EMBEDDED_TEAM} at the 2018 World Cup"
    else:
        club, squad = measures.squad_pick(team=SQUAD_TEAM, competition_id=SQUAD_COMPETITION, size=SQUAD_SIZE)
        label = f"{club.name} 2017/18"
    figures["squad"] = f"{label}, {len(squad)} players"
    owner, token = measures.bench_owner()

    if production and "sections" in only:
        _, others = measures.squad_pick(team=OTHER_TEAM, competition_id=OTHER_COMPETITION, size=OTHER_SIZE)
        sample = squad + [pid for pid in others if pid not in squad]
        warm_up = measures.most_played(1, exclude=set(sample))[0]
        say(f"section compute times over {len(sample)} players (in-process)...")
        figures.update(measures.section_times(sample, warm_up_player=warm_up))

    # Forked now, before this process opens a broker connection: a forked
    # process inherits the sockets open in its parent, and kombu's clean-up
    # after a fork shuts down the inherited broker connection for both.
    pool = cleanup.enter_context(measures.local_pool())

    # Processes whose CPU the serial and squad figures break down (bench.cpu), by role.
    cpu_roots = dict(cpu_roots or {})

    say("starting workers (fast, slow; --autoscale=6,1) and gunicorn...")
    workers = {}
    for queue in ("fast", "slow"):
        worker = stack.worker_start(queue, env=env, log_dir=log_dir)
        cleanup.callback(worker.stop)
        cpu_roots[f"{queue}_pool"] = worker.popen.pid
        workers[queue] = worker.node
    web, base_url = stack.web_start(env=env, log_dir=log_dir)
    cleanup.callback(web.stop)
    cpu_roots["web"] = web.popen.pid
    figures["web_server"] = (
        f"gunicorn gthread, {stack.WEB_WORKERS} workers x {stack.WEB_THREADS} threads, keep-alive"
    )
    client = measures.ApiClient(base_url, token)

    if "tasks" in only:
        say("task round trips through broker and result backend...")
        # The filesystem transport polls its folder (every 0.2 s): fewer samples keep the run short.
        figures.update(
            measures.celery_overhead(workers=workers)
            if production
            else measures.celery_overhead(samples=20, burst=100)
        )
    if "squad" in only:
        _squad_measures(
            figures,
            client,
            owner=owner,
            squad=squad,
            label=label,
            workers=workers,
            pool=pool,
            cpu_roots=cpu_roots,
            production=production,
            base_url=base_url,
            token=token,
            log_dir=log_dir,
        )
    if production and "pollers" in only:
        big = measures.most_played(BIG_REPORT_PLAYERS)
        say(f"{BIG_REPORT_PLAYERS}-player reports...")
        figures.update(
            measures.big_reports_and_pollers(
                client,
                base_url=base_url,
                token=token,
                player_ids=big,
                repeats=3,
                pollers=POLLERS,
                seconds=POLL_SECONDS,
                log_dir=log_dir,
            )
        )
    if production and "big" in only:
        say("clearing every report and partial, so the big reports start cold...")
        measures.reports_clear(workers)
        say(
            f"cold reports of {', '.join(str(size) for size in BIG_READY_SIZES)} players, each after its run"
            f" on {measures.LOCAL_POOL_PROCESSES} local processes..."
        )
        figures.update(
            measures.big_ready(
                client, owner=owner, sizes=BIG_READY_SIZES, workers=workers, pool=pool, cpu_roots=cpu_roots
            )
        )
    if production and "fair" in only:
        from .fairness import fair_share

        say("clearing every report and partial, so the fair-share reports start cold...")
        measures.reports_clear(workers)
        figures.update(
            fair_share(
                base_url,
                cpu_roots={role: cpu_roots[role] for role in ("fast_pool", "slow_pool", "web")},
                workers=workers,
            )
        )
    figures.update(measures.derived(figures))
    return figures


def _squad_measures(
    figures: dict,
    client,
    *,
    owner,
    squad: list[int],
    label: str,
    workers: dict[str, str],
    pool,
    cpu_roots: dict,
    production: bool,
    base_url: str,
    token: str,
    log_dir: Path,
) -> None:
    """The paired serial, local-pool and cold squad runs, and what reads the squad's report after them."""
    from . import measures
    from .http import status_pollers
    from .results import percentile, rounded

    say = measures.say

    say(
        f"serial baseline (fast sections of {len(squad)} players, computed and stored in this process,"
        f" workers paused), the same on {measures.LOCAL_POOL_PROCESSES} local processes, and a cold squad"
        f" report (all sections), one after the other, {measures.RUNS} times..."
    )
    cold = measures.paired_runs(
        client,
        owner=owner,
        player_ids=squad,
        name=f"bench: {label}",
        workers=workers,
        pool=pool,
        cpu_roots=cpu_roots,
    )
    report_id = cold.pop("_report_id")
    figures.update(cold)
    if production:
        figures.update(measures.s3_costs(report_id))

    say("the same squad again (reuse)...")
    figures.update(measures.squad_reuse(client, player_ids=squad, name=f"bench: {label} again"))

    say("create times (1 and squad-sized reports, all partials reused)...")
    single = measures.creates(client, player_ids=squad[:1], count=20, label="1 player")
    many = measures.creates(client, player_ids=squad, count=100, label="squad")
    figures["create_1_player_ms"] = rounded(percentile(single, 50))
    figures["create_25_players_ms"] = rounded(percentile(many, 50))
    figures["create_p50_ms"] = rounded(percentile(many, 50))
    figures["create_p99_ms"] = rounded(percentile(many, 99))
    figures["status_25_players_ms"] = rounded(percentile(measures.status_sequential(client, report_id), 50))
    figures["report_page_first_view_ms"] = rounded(
        percentile(measures.report_page_first_view(client, owner=owner, report_id=report_id), 50)
    )
    one, _ = client.report_create(name="bench: one player", player_ids=squad[:1])
    figures["status_1_player_ms"] = rounded(percentile(measures.status_sequential(client, one["id"]), 50))

    if not production:
        say(f"{POLLERS} pollers for {POLL_SECONDS} s on the squad report...")
        offset = stack.access_log_offset(log_dir)
        polled = status_pollers(
            base_url=base_url, token=token, report_id=report_id, pollers=POLLERS, seconds=POLL_SECONDS
        )
        server = stack.server_times_ms(
            log_dir, offset=offset, method="GET", path=f"/api/reports/{report_id}/"
        )
        figures["status_p50_ms"] = rounded(percentile(polled.latencies_ms, 50))
        figures["status_p99_ms"] = rounded(percentile(polled.latencies_ms, 99))
        figures["status_server_p50_ms"] = rounded(percentile(server, 50))
        figures["status_server_p99_ms"] = rounded(percentile(server, 99))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.phase")
    parser.add_argument("stack", choices=["production", "embedded"])
    parser.add_argument("--out", type=Path, required=True, help="where to write this stack's figures (JSON)")
    parser.add_argument("--only", type=groups_parse, default=frozenset(GROUPS), help=ONLY_HELP)
    args = parser.parse_args(argv)
    run = run_production if args.stack == "production" else run_embedded
    figures = run(args.out, args.only)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2, sort_keys=True))


if __name__ == "__main__":
    sys.path.insert(0, str(stack.REPO))
    main()
