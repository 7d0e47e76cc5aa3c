"""A separate process that calls one sandbox vendor; run by test_multiprocess.py.

Usage: python -m tests.mp_caller VENDOR CALLS MODE. Settings come from the
environment (DATABASE_URL, REDIS_URL, SANDBOX_URL, ROLEFERRY_RATE_LIMITS).
Prints a JSON object counting outcomes.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

from clients.errors import VendorError
from console.runtime import open_runtime


def main() -> None:
    vendor, calls, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    runtime = open_runtime()
    outcomes: Counter[str] = Counter()
    probe = runtime.client(vendor).run_probe  # type: ignore[attr-defined]
    operation = runtime.pipeline.runtime(vendor).spec.free_probe.operation
    for _ in range(calls):
        try:
            probe(operation, mode=mode)
            outcomes["success"] += 1
        except VendorError as exc:
            outcomes[exc.error_class] += 1
    runtime.close()
    print(json.dumps(outcomes))


if __name__ == "__main__":
    main()
