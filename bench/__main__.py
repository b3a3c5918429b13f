"""Run every benchmark module's `main()` in turn. To add a benchmark, add its module name to MODULES."""

from __future__ import annotations

import importlib
import sys
import time

MODULES = [
    "bench.db",
]


def main() -> int:
    for name in MODULES:
        started = time.perf_counter()
        print(f"\n=== {name} ===", flush=True)
        importlib.import_module(name).main()
        print(f"=== {name}: {time.perf_counter() - started:.1f} s ===", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
