"""The labelled emergency corpus and the phrase screen's figures on it (used by tests/agent/test_safety.py and
`make bench`).

devtools/testing/data/emergency_corpus.jsonl holds one caller utterance per line: `text`, `language` (en, es),
`label` (emergency: the caller must be told to call the emergency number now; routine: anything else),
`category` (first_person, second_person, third_person, negation, reported_speech, past_event, follow_up,
hypothetical, asr: lower case without punctuation as speech-to-text writes it, idiom, general) and `batch`.
Batch 1 was written before the screen was reworked; batches 2 to 5 were each written afterwards without looking
at the rules, measured as unseen phrasings (docs/security.md has those figures), then kept in the corpus.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from agent.safety import detect_emergency

CORPUS = Path(__file__).parent / "data" / "emergency_corpus.jsonl"
MAX_ROUTINE_CAUGHT = 0.02


@dataclass(frozen=True)
class Utterance:
    text: str
    language: str
    label: str
    category: str
    batch: int


@dataclass(frozen=True)
class Figures:
    emergencies: int
    missed: list[Utterance]
    routine: int
    caught: list[Utterance]
    microseconds_per_utterance: float

    @property
    def caught_share(self) -> float:
        return len(self.caught) / self.routine

    @property
    def goals_met(self) -> bool:
        return not self.missed and self.caught_share <= MAX_ROUTINE_CAUGHT

    def lines(self) -> list[str]:
        return [
            f"emergency corpus: {self.emergencies + self.routine} utterances "
            f"({self.emergencies} emergencies, {self.routine} routine)",
            f"missed emergencies: {len(self.missed)} of {self.emergencies} (goal 0)",
            f"routine utterances caught: {len(self.caught)} of {self.routine} = {100 * self.caught_share:.1f} % "
            f"(goal <= {100 * MAX_ROUTINE_CAUGHT:.0f} %)",
            f"screen time: {self.microseconds_per_utterance:.0f} us per utterance",
            *(f"  missed: {u.text!r}" for u in self.missed),
            *(f"  caught: {u.text!r}" for u in self.caught),
        ]


def load() -> list[Utterance]:
    with CORPUS.open(encoding="utf-8") as lines:
        return [Utterance(**json.loads(line)) for line in lines if line.strip()]


def measure(utterances: list[Utterance]) -> Figures:
    started = time.perf_counter()
    flagged = [detect_emergency(u.text) is not None for u in utterances]
    elapsed = time.perf_counter() - started
    pairs = list(zip(utterances, flagged, strict=True))
    return Figures(
        emergencies=sum(u.label == "emergency" for u in utterances),
        missed=[u for u, hit in pairs if u.label == "emergency" and not hit],
        routine=sum(u.label == "routine" for u in utterances),
        caught=[u for u, hit in pairs if u.label == "routine" and hit],
        microseconds_per_utterance=elapsed / len(utterances) * 1e6,
    )
