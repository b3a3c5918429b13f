"""The emergency phrase screen on its labelled corpus: missed emergencies, routine callers caught, and time.

Goals: no emergency in the corpus missed, at most 2 % of routine utterances caught. `python -m bench.emergency`
runs it alone; `python -m bench` runs it with the others. Exit status 1 when a goal is not met.
"""

from __future__ import annotations

import sys

from devtools.testing import emergency_corpus


def main() -> int:
    figures = emergency_corpus.measure(emergency_corpus.load())
    print("\n".join(figures.lines()))
    print(f"goals: {'met' if figures.goals_met else 'NOT MET'}")
    return 0 if figures.goals_met else 1


if __name__ == "__main__":
    sys.exit(main())
