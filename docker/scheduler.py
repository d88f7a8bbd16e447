#!/usr/bin/env python3
"""Periodic commands of the CKAN site: the ``scheduler`` service of docker-compose.yml.

Each ``SP_SCHEDULE_<NAME>`` environment variable is one task, ``<interval> <command>``::

    SP_SCHEDULE_HARVEST=5m ckan harvester run
    SP_SCHEDULE_NOTIFY=1h ckan notify send_emails

The interval is in seconds, or a number followed by ``s``, ``m``, ``h`` or ``d``.
Tasks run one at a time: first at start-up, then one interval after their
previous start. Before each run the scheduler takes a Redis lock named after
the site and the task (``SET NX`` that expires before the next run is due), so
that several scheduler containers run a task at most about once per interval.
A run that lasts longer than ``SP_SCHEDULER_TIMEOUT`` seconds (default 3600) is
stopped. The heartbeat file, touched every few seconds, feeds the container's
health check. SIGTERM stops the loop and is passed on to a running task.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Mapping, Optional

PREFIX = "SP_SCHEDULE_"
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: seconds between two looks at the clock (and heartbeats)
TICK = 5.0
#: a lock expires after this share of the interval, before the next run is due
LOCK_SHARE = 0.9
#: after a failed lock (Redis down), try again this soon
RETRY = 60.0

log = logging.getLogger("servicespublics.scheduler")


@dataclasses.dataclass
class Task:
    name: str
    interval: float
    command: list[str]
    next_run: float = 0.0


def parse_interval(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text.strip().lower())
    if not match:
        raise ValueError(f"not an interval: {text!r} (e.g. 300, 5m, 1h)")
    seconds = float(match[1]) * UNITS[match[2] or "s"]
    if seconds <= 0:
        raise ValueError(f"the interval must be positive: {text!r}")
    return seconds


def parse_tasks(environ: Mapping[str, str]) -> list[Task]:
    """The tasks defined by ``SP_SCHEDULE_*`` variables; empty ones are off."""
    tasks = []
    for key in sorted(environ):
        value = environ[key].strip()
        if not key.startswith(PREFIX) or not value:
            continue
        interval, _, command = value.partition(" ")
        words = shlex.split(command)
        if not words:
            raise ValueError(f"{key}: no command after the interval")
        tasks.append(Task(key[len(PREFIX):].lower(), parse_interval(interval), words))
    return tasks


class RedisLock:
    """At most one run of a task per interval across scheduler containers."""

    def __init__(self, url: str, site_id: str):
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.prefix = f"servicespublics:{site_id}:scheduler:"

    def __call__(self, task: Task) -> bool:
        expiry_ms = max(1000, int(task.interval * LOCK_SHARE * 1000))
        return bool(
            self.redis.set(self.prefix + task.name, socket.gethostname(), nx=True, px=expiry_ms)
        )


class Scheduler:
    def __init__(
        self,
        tasks: list[Task],
        lock: Callable[[Task], bool],
        run: Callable[[Task], Optional[int]],
        heartbeat: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.tasks = tasks
        self.lock = lock
        self.run = run
        self.heartbeat = heartbeat
        self.clock = clock
        self.sleep = sleep
        self.stopped = False

    def step(self) -> None:
        """Run the tasks that are due, in the order they were defined."""
        for task in self.tasks:
            if self.stopped:
                return
            now = self.clock()
            if now < task.next_run:
                continue
            try:
                locked = self.lock(task)
            except Exception as error:
                log.warning("%s: no lock (%s), next try in %.0f s", task.name, error, RETRY)
                task.next_run = now + min(RETRY, task.interval)
                continue
            task.next_run = now + task.interval
            if not locked:
                log.info("%s: run by another scheduler this time", task.name)
                continue
            log.info("%s: %s", task.name, shlex.join(task.command))
            status = self.run(task)
            if status:
                log.warning("%s: exited with status %s", task.name, status)

    def loop(self) -> None:
        while not self.stopped:
            self.heartbeat()
            self.step()
            if not self.stopped:
                self.sleep(TICK)


class Runner:
    """Runs a task's command, beating the heart while it lasts."""

    def __init__(self, heartbeat: Callable[[], None], timeout: float):
        self.heartbeat = heartbeat
        self.timeout = timeout
        self.process: Optional[subprocess.Popen] = None

    def __call__(self, task: Task) -> Optional[int]:
        deadline = time.monotonic() + self.timeout
        self.process = subprocess.Popen(task.command)
        try:
            while True:
                try:
                    return self.process.wait(timeout=TICK)
                except subprocess.TimeoutExpired:
                    self.heartbeat()
                    if time.monotonic() > deadline:
                        log.error("%s: longer than %.0f s, stopped", task.name, self.timeout)
                        self.stop()
        finally:
            self.process = None

    def stop(self) -> None:
        process = self.process
        if process and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)-5.5s [%(name)s] %(message)s",
    )
    tasks = parse_tasks(os.environ)
    if not tasks:
        log.warning("no SP_SCHEDULE_* task: idle")
    heartbeat_file = Path(
        os.environ.get("SP_SCHEDULER_HEARTBEAT", "/tmp/servicespublics-scheduler.heartbeat")
    )

    def heartbeat() -> None:
        heartbeat_file.touch()

    runner = Runner(heartbeat, float(os.environ.get("SP_SCHEDULER_TIMEOUT", "3600")))
    lock = RedisLock(
        os.environ.get("CKAN_REDIS_URL", "redis://redis:6379/0"),
        os.environ.get("CKAN_SITE_ID", "default"),
    )
    scheduler = Scheduler(tasks, lock, runner, heartbeat)

    def stop(signum, frame) -> None:
        log.info("stopping (signal %s)", signum)
        scheduler.stopped = True
        runner.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for task in tasks:
        log.info("%s: every %.0f s: %s", task.name, task.interval, shlex.join(task.command))
    scheduler.loop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
