"""The queue side of the queue app: Celery on Redis (tests of fasterapi.deploy's companions).

Each job records its run in Redis (QUEUE_APP_REDIS): jobs:BATCH:runs counts
the runs of each job id, and jobs:BATCH:log holds one JSON line a run (job
id, version, host, start and end times), so that a test counts the jobs
lost, run twice, and finished by each release. The beat schedule sends
`tick` every 2 s; the beat records each one as it sends it, with its
version, host and PID (two beats at once would tick twice as often). A FAIL_STARTUP file next to this module
makes its import fail (a release whose companions do not start).

  celery -A jobs worker ...            the companion
  celery -A jobs beat ...              the singleton companion
  python -m jobs report                the scheduled job: records its version in timer:runs
  python -m jobs enqueue N [--seed S] [--batch B]   N jobs of 0.2 to 3 s (test side)
  python -m jobs counts [--batch B]    the counts, as JSON (test side)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import redis
from celery import Celery
from celery.signals import before_task_publish

VERSION = Path(__file__).with_name("VERSION").read_text(encoding="utf-8").strip()
if Path(__file__).with_name("FAIL_STARTUP").exists():  # tests/tools/make_app_versions.py --fail-startup
    raise RuntimeError("queue app: jobs.py refuses to load on purpose (a FAIL_STARTUP file is next to it)")
BROKER = os.environ.get("QUEUE_APP_REDIS", "redis://127.0.0.1:6379/0")
HOST = socket.gethostname()

app = Celery("jobs", broker=BROKER)
app.conf.update(
    # One job reserved a worker process at a time: a stopping worker hands back as little as it can.
    worker_prefetch_multiplier=1,
    task_default_queue="jobs",
    broker_connection_retry_on_startup=True,
    # A tick not run within 10 s is dropped: it only marks the beat's sending (below).
    beat_schedule={"tick": {"task": "jobs.tick", "schedule": 2.0, "options": {"expires": 10}}},
    worker_hijack_root_logger=False,
)
_store: Optional["redis.Redis[bytes]"] = None


def store() -> "redis.Redis[bytes]":
    """The Redis connection the records go to (the broker's database)."""
    global _store  # pylint: disable=global-statement
    if _store is None:
        _store = redis.Redis.from_url(BROKER)
    return _store


@app.task(name="jobs.work")
def work(batch: str, job: int, seconds: float) -> None:
    """Sleep SECONDS, then record the run of job JOB of BATCH."""
    started = time.time()
    time.sleep(seconds)
    pipe = store().pipeline()
    pipe.hincrby("jobs:%s:runs" % batch, str(job), 1)
    pipe.rpush("jobs:%s:log" % batch, json.dumps([job, VERSION, HOST, started, time.time()]))
    pipe.execute()


@app.task(name="jobs.tick")
def tick() -> None:
    """The beat's tick: recorded when the beat sends it (below), not when a worker gets to it behind the jobs."""


@before_task_publish.connect
def _record_tick(sender: Optional[str] = None, **_kwargs: Any) -> None:
    """In the process that sends a tick (the beat): its version, the time, its host and PID, in beat:ticks."""
    if sender == "jobs.tick":
        store().rpush("beat:ticks", json.dumps([VERSION, time.time(), HOST, os.getpid()]))


def enqueue(batch: str, count: int, seed: int) -> None:
    """COUNT jobs of 0.2 to 3 s (a seeded draw) in BATCH."""
    draw = random.Random(seed)
    store().delete("jobs:%s:runs" % batch, "jobs:%s:log" % batch)
    for job in range(count):
        work.apply_async((batch, job, round(draw.uniform(0.2, 3.0), 2)))
    store().set("jobs:%s:enqueued" % batch, json.dumps({"count": count, "at": time.time()}))


def longest_gap(spans: List[Tuple[float, float]]) -> float:
    """The longest time no job was running, between the first start and the last end of SPANS (sorted (start, end) pairs)."""
    gap, reach = 0.0, spans[0][1] if spans else 0.0
    for start, end in spans[1:]:
        gap = max(gap, start - reach)
        reach = max(reach, end)
    return round(gap, 3)


def counts(batch: str) -> Dict[str, Any]:
    """What became of BATCH's jobs: completed (by version and host), lost, run twice, the queue, the longest gap."""
    db = store()
    enqueued = json.loads(db.get("jobs:%s:enqueued" % batch) or b'{"count": 0, "at": 0}')
    runs = {int(job): int(n) for job, n in db.hgetall("jobs:%s:runs" % batch).items()}
    log: List[List[Any]] = [json.loads(line) for line in db.lrange("jobs:%s:log" % batch, 0, -1)]
    by_version: Dict[str, int] = {}
    by_host: Dict[str, int] = {}
    for _job, version, host, _start, _end in log:
        by_version[version] = by_version.get(version, 0) + 1
        by_host[host] = by_host.get(host, 0) + 1
    spans = sorted((start, end) for _job, _version, _host, start, end in log)
    return {"enqueued": enqueued["count"], "completed": len(runs), "runs": sum(runs.values()),
            "lost": enqueued["count"] - len(runs), "twice": sum(1 for n in runs.values() if n > 1),
            "by_version": by_version, "by_host": by_host, "queued": db.llen("jobs"),
            "longest_gap_s": longest_gap(spans),
            "longest_gap_s_by_host": {host: longest_gap(sorted((start, end) for _job, _version, where, start, end in log
                                                               if where == host)) for host in by_host},
            "first_start": spans[0][0] if spans else None,
            "last_end": max(end for _start, end in spans) if spans else None}


def report() -> None:
    """The scheduled job: this release's version, when, and on which host."""
    store().rpush("timer:runs", json.dumps([VERSION, time.time(), os.environ.get("FASTERAPI_TIMER", ""), HOST]))


def main(argv: List[str]) -> int:
    """The command line (see the module's documentation)."""
    parser = argparse.ArgumentParser(prog="python -m jobs")
    sub = parser.add_subparsers(dest="command", required=True)
    put = sub.add_parser("enqueue")
    put.add_argument("count", type=int)
    put.add_argument("--seed", type=int, default=1)
    put.add_argument("--batch", default="a")
    read = sub.add_parser("counts")
    read.add_argument("--batch", default="a")
    sub.add_parser("report")
    args = parser.parse_args(argv)
    if args.command == "enqueue":
        enqueue(args.batch, args.count, args.seed)
    elif args.command == "counts":
        print(json.dumps(counts(args.batch), sort_keys=True))
    else:
        report()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
