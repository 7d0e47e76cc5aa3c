"""`roleferry-console worker`: run backfill jobs from the huey queue until stopped."""

from __future__ import annotations

import argparse
import logging
import threading

from console.backfill.worker import DEFAULT_THREADS, build_huey, recover_jobs
from console.cli.common import EXIT_OK, UsageError
from console.config import ConfigError, Settings
from console.store import Store

log = logging.getLogger(__name__)

# Seconds between sweeps for jobs whose queued task died with a killed worker.
RECOVERY_INTERVAL = 5.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("worker", help="process queued backfill jobs (huey consumer)")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help=f"rows processed at once by this worker (default {DEFAULT_THREADS})")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.threads < 1:
        raise UsageError(f"--threads {args.threads} is below 1")
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    # The worker logs its starts, stops and row failures even without -v.
    logging.getLogger("console.backfill").setLevel(logging.INFO)
    logging.getLogger("huey").setLevel(logging.INFO)
    store = Store(settings.database_url)
    store.migrate()
    huey, _ = build_huey(settings)
    stop = threading.Event()

    def sweep() -> None:
        while True:
            try:
                queued = recover_jobs(settings, store, args.threads)
            except Exception:  # the next sweep tries again
                log.exception("backfill recovery sweep failed")
            else:
                if queued:
                    log.info("queued row loops for open backfill jobs %s", ", ".join(queued))
            if stop.wait(RECOVERY_INTERVAL):
                return

    sweeper = threading.Thread(target=sweep, name="backfill-recovery", daemon=True)
    sweeper.start()
    queue = "redis" if settings.redis_url else "sqlite"
    log.info("backfill worker started: %d threads, %s queue", args.threads, queue)
    consumer = huey.create_consumer(workers=args.threads, worker_type="thread", periodic=False)
    try:
        consumer.run()
    finally:
        stop.set()
        store.dispose()
        log.info("backfill worker stopped")
    return EXIT_OK
