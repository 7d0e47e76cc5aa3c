"""Cost of the call pipeline over a bare httpx request to the same sandbox endpoint.

Calls Apollo's health endpoint 2,000 times through a raw `httpx.Client` and
2,000 times through the pipeline (breaker, limiter, retry wrapper, recording,
metrics), interleaved so both see the same machine load, and prints the median
microseconds per call of each and their ratio (target: at most 1.15).

Run: .venv/bin/python bench/client_overhead.py [--calls N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import metrics_sink, sandbox_process  # noqa: E402
from clients.registry import REGISTRY  # noqa: E402
from clients.registry.spec import RateLimit  # noqa: E402
from console.config import Settings  # noqa: E402
from console.runtime import open_runtime, sandbox_keys  # noqa: E402

WARMUP = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls of each kind (default 2000)")
    args = parser.parse_args()

    # 100 requests per 10 ms never binds at one call per several hundred
    # microseconds. The limiter is a sliding log, whose cost grows with the calls
    # inside its window; a short window keeps that near real vendor limits
    # (at most a few hundred calls a window) instead of thousands.
    limits = {name: RateLimit(100, 0.01) for name in REGISTRY}
    limit_text = ",".join(f"{name}=1000000/1" for name in REGISTRY)
    with sandbox_process(limit_text) as url, metrics_sink() as statsd_port, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(root=Path(tmp), database_url=f"sqlite:///{tmp}/console.db", sandbox_url=url,
                            statsd_port=statsd_port, rate_limits=limits)
        runtime = open_runtime(settings)
        client = runtime.client("apollo")
        raw = httpx.Client(base_url=runtime.base_urls["apollo"],
                           timeout=httpx.Timeout(connect=3.0, read=10.0, write=10.0, pool=3.0))
        headers = {"x-api-key": sandbox_keys()["APOLLO_API_KEY"]}

        def raw_call() -> None:
            response = raw.get("/auth/health", headers=headers)
            response.raise_for_status()
            response.json()

        def pipeline_call() -> None:
            client.health()

        for _ in range(WARMUP):
            raw_call()
            pipeline_call()
        raw_times: list[float] = []
        pipeline_times: list[float] = []
        for _ in range(args.calls):
            started = time.perf_counter()
            raw_call()
            raw_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            pipeline_call()
            pipeline_times.append(time.perf_counter() - started)
        runtime.recorder.flush()
        raw.close()
        runtime.close()

    raw_us = statistics.median(raw_times) * 1e6
    pipeline_us = statistics.median(pipeline_times) * 1e6
    print(f"calls each:           {args.calls}")
    print(f"raw httpx median:     {raw_us:8.1f} us")
    print(f"pipeline median:      {pipeline_us:8.1f} us")
    print(f"ratio pipeline/raw:   {pipeline_us / raw_us:.3f} (target <= 1.15)")


if __name__ == "__main__":
    main()
