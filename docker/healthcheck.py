#!/usr/bin/env python3
"""Health checks of the CKAN containers (docker/docker-compose.yml).

    healthcheck.py web        CKAN answers status_show on port 5000
    healthcheck.py jobs       this container's RQ worker is registered in Redis
    healthcheck.py consumer   Redis answers (harvest gather and fetch consumers)
    healthcheck.py scheduler  the scheduler's heartbeat is recent
    healthcheck.py db [--wait SECONDS]   PostgreSQL accepts CKAN's connection
    healthcheck.py auto       the check of the role entrypoint.sh started

Exit status 0 means healthy. Only the standard library, redis, rq and
psycopg2 are used: all three come with CKAN.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
import urllib.request

REDIS_URL = os.environ.get("CKAN_REDIS_URL", "redis://redis:6379/0")
MODE_FILE = os.environ.get("SP_MODE_FILE", "/tmp/servicespublics-mode")
HEARTBEAT = os.environ.get("SP_SCHEDULER_HEARTBEAT", "/tmp/servicespublics-scheduler.heartbeat")
#: a scheduler that has not beaten for this long is stuck
HEARTBEAT_MAX_AGE = 300


def check_web() -> None:
    url = "http://127.0.0.1:5000/api/3/action/status_show"
    with urllib.request.urlopen(url, timeout=8) as response:
        body = json.load(response)
    if not body.get("success"):
        raise RuntimeError(f"status_show answered {body!r:.200}")


def _redis():
    import redis

    return redis.Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=5)


def check_consumer() -> None:
    _redis().ping()


def check_jobs() -> None:
    from rq import Worker

    hostname = socket.gethostname()
    workers = Worker.all(connection=_redis())
    if not any(worker.hostname == hostname for worker in workers):
        raise RuntimeError(f"no RQ worker registered for {hostname}")


def check_scheduler() -> None:
    age = time.time() - os.stat(HEARTBEAT).st_mtime
    if age > HEARTBEAT_MAX_AGE:
        raise RuntimeError(f"last heartbeat {age:.0f} s ago")


def check_db(wait: float = 0) -> None:
    import psycopg2

    url = os.environ["CKAN_SQLALCHEMY_URL"]
    # SQLAlchemy's dialect prefixes mean nothing to libpq
    url = url.replace("postgresql+psycopg2://", "postgresql://", 1)
    deadline = time.monotonic() + wait
    while True:
        try:
            psycopg2.connect(url, connect_timeout=5).close()
            return
        except psycopg2.OperationalError as error:
            if time.monotonic() >= deadline:
                raise RuntimeError(f"PostgreSQL is not reachable: {error}") from None
            print("[healthcheck] waiting for PostgreSQL...", file=sys.stderr)
            time.sleep(3)


CHECKS = {
    "web": check_web,
    "jobs": check_jobs,
    "gather": check_consumer,
    "fetch": check_consumer,
    "consumer": check_consumer,
    "scheduler": check_scheduler,
}


def main(argv: list[str]) -> int:
    mode = argv[0] if argv else "auto"
    if mode == "auto":
        try:
            with open(MODE_FILE, encoding="utf-8") as f:
                mode = f.read().strip()
        except FileNotFoundError:
            return 0  # a one-off command, not a service role
        if mode not in CHECKS:
            return 0  # init, or a command run through the entrypoint
    if mode == "db":
        wait = float(argv[2]) if len(argv) > 2 and argv[1] == "--wait" else 0.0

        def check() -> None:
            check_db(wait)
    elif mode in CHECKS:
        check = CHECKS[mode]
    else:
        print(f"unknown check {mode!r}; one of: db, auto, {', '.join(CHECKS)}", file=sys.stderr)
        return 2
    try:
        check()
    except Exception as error:  # whatever fails means unhealthy
        print(f"unhealthy ({mode}): {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
