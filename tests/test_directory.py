"""Matching a caller's words to the directory (agent/hospital/directory.py), without a database."""

from __future__ import annotations

import pytest

from agent.hospital import Department
from agent.hospital.directory import answers_to, language_code

INFO = {"parking": "The garage is on Oak Street.", "visiting_hours": "Visits are 10:00 to 20:00."}
RADIOLOGY = "Radiology is at Building B, floor 1, extension 2100"
DEPARTMENTS = [
    Department(1, "Radiology", "Building B, floor 1", "2100", ""),
    Department(2, "Cardiology", "Building A, floor 3", None, ""),
]


@pytest.mark.parametrize(
    ("spoken", "code"), [("Spanish", "es"), ("haitian creole", "ht"), ("Mandarin", "zh"), ("es", "es"), ("FR", "fr")]
)
def test_languages_named_in_words_become_codes(spoken: str, code: str) -> None:
    assert language_code(spoken) == code


@pytest.mark.parametrize(
    ("question", "found"),
    [
        ("Parking", ["parking: The garage is on Oak Street."]),
        ("visiting hours", ["visiting hours: Visits are 10:00 to 20:00."]),
        ("where is radiology", [RADIOLOGY]),
        ("departments", [RADIOLOGY, "Cardiology is at Building A, floor 3"]),
        ("helipad tours", []),
    ],
)
def test_a_question_finds_the_answers_and_places_it_mentions(question: str, found: list[str]) -> None:
    assert answers_to(question, INFO, DEPARTMENTS) == found
