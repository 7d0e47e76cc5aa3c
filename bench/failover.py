"""Extra time the waterfall adds before Clay returns contacts when Apollo is down and its breaker open.

Starts the sandbox in its own process with Apollo `down`, opens Apollo's breaker
by failing calls, then alternates N times between the waterfall (Apollo, then
Clay) and Clay alone for the same company, and prints the median of each, the
difference (target: under 5 ms) and the ratio last.

Run: .venv/bin/python bench/failover.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import metrics_sink, sandbox_process  # noqa: E402
from clients.errors import VendorError  # noqa: E402
from clients.registry import REGISTRY  # noqa: E402
from clients.registry.spec import RateLimit  # noqa: E402
from console.config import Settings  # noqa: E402
from console.enrichment import run_waterfall  # noqa: E402
from console.runtime import open_runtime  # noqa: E402

DOMAIN = "acme.com"
TITLES = ["VP Engineering"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="lookups of each kind (default 200)")
    args = parser.parse_args()

    limit_text = ",".join(f"{name}=1000000/1" for name in REGISTRY)
    limits = {name: RateLimit(100, 0.01) for name in REGISTRY}
    with sandbox_process(limit_text, faults="apollo=down") as url, metrics_sink() as statsd_port, \
            tempfile.TemporaryDirectory() as tmp:
        settings = Settings(root=Path(tmp), database_url=f"sqlite:///{tmp}/console.db", sandbox_url=url,
                            statsd_port=statsd_port, rate_limits=limits)
        runtime = open_runtime(settings)
        runtime.pipeline._sleep = lambda seconds: None  # open the breaker without waiting out backoff
        apollo = runtime.client("apollo")
        while runtime.breaker("apollo").state != "open":
            try:
                apollo.health()
            except VendorError:
                pass
        clay = runtime.client("clay")

        waterfall_times: list[float] = []
        clay_times: list[float] = []
        for _ in range(args.runs):
            started = time.perf_counter()
            result = run_waterfall(runtime, DOMAIN, TITLES)
            waterfall_times.append(time.perf_counter() - started)
            assert result.provider == "clay", result
            started = time.perf_counter()
            clay.find_contacts(DOMAIN, TITLES, limit=3)
            clay_times.append(time.perf_counter() - started)
        runtime.close()

    waterfall_ms = statistics.median(waterfall_times) * 1000
    clay_ms = statistics.median(clay_times) * 1000
    print(f"runs each:                   {args.runs}")
    print(f"Clay alone median:           {clay_ms:8.2f} ms")
    print(f"waterfall (Apollo skipped):  {waterfall_ms:8.2f} ms")
    print(f"extra before Clay answers:   {waterfall_ms - clay_ms:8.2f} ms (target < 5 ms)")
    print(f"ratio waterfall/Clay alone:  {waterfall_ms / clay_ms:.3f}")


if __name__ == "__main__":
    main()
