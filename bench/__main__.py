"""Run every benchmark module's `main()` in turn. To add a benchmark, add its module name to MODULES."""

from __future__ import annotations

import importlib
import sys
import time

MODULES = [
    "bench.emergency",
    "bench.db",
    "bench.agent",
    "bench.fallback",
    "bench.console",
]


def main() -> int:
    status = 0
    for name in MODULES:
        started = time.perf_counter()
        print(f"\n=== {name} ===", flush=True)
        status = max(status, importlib.import_module(name).main() or 0)  # a module may return an exit status
        print(f"=== {name}: {time.perf_counter() - started:.1f} s ===", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
