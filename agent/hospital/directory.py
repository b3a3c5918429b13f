"""Matching a caller's words to the directory: which recorded answers and departments a question is about, and
the language code for a language named in words."""

from __future__ import annotations

from agent.hospital.records import Department

# Language names as callers say them, to the codes doctors' languages are stored as.
LANGUAGE_CODES = {
    "english": "en",
    "spanish": "es",
    "french": "fr",
    "german": "de",
    "italian": "it",
    "portuguese": "pt",
    "chinese": "zh",
    "mandarin": "zh",
    "cantonese": "yue",
    "arabic": "ar",
    "hindi": "hi",
    "russian": "ru",
    "vietnamese": "vi",
    "korean": "ko",
    "japanese": "ja",
    "tagalog": "tl",
    "polish": "pl",
    "haitian creole": "ht",
}


def language_code(spoken: str) -> str:
    """The code for a language named in words ("Spanish" -> "es"); anything else is taken as a code already."""
    return LANGUAGE_CODES.get(spoken.lower(), spoken.lower())


def answers_to(question: str, info: dict[str, str], departments: list[Department]) -> list[str]:
    """The recorded answers (by topic) and department locations a question mentions, as sentences."""
    question = question.lower()
    words = set(question.replace("_", " ").split())
    answers = [
        f"{key.replace('_', ' ')}: {answer}"
        for key, answer in info.items()
        if key in question.replace(" ", "_") or words & set(key.split("_"))
    ]
    places = [
        f"{department.name} is at {department.location}"
        + (f", extension {department.phone_extension}" if department.phone_extension else "")
        for department in departments
        if "department" in question
        or department.name.lower() in question
        or words & set(department.name.lower().split())
    ]
    return answers + places
