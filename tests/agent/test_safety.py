"""Emergency detection on many phrasings, and on ordinary requests that must not trigger it."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.safety import Emergency, detect_emergency, emergency_message
from devtools.testing import emergency_corpus

# Reported against the old screen: missed emergencies, and routine callers it stopped.
MISSED_BEFORE = [
    "Oh no he's having a stroke",
    "no no she's not breathing",
    "oh no my dad collapsed",
    "I think my mom had a stroke",
    "my husband just had a stroke",
    "he fell and isn't waking up",
    "he fell and is not waking up",
    "No respira",
    "mi esposo no respira",
]
CAUGHT_BEFORE = [
    "I need a follow-up for my chest pain next month",
    "I had a heart attack years ago",
    "My dad had a heart attack in 2015 and needs his yearly check-up",
    "My son has asthma",
    "my daughter has asthma and needs a check-up with Dr Chen",
    "My son has asthma and has trouble breathing when he plays football, can he see Dr Chen?",
    "My son's asthma makes it hard to breathe when he runs",
    "My child has asthma and can't breathe well in cold weather, we need a check-up",
]

EMERGENCIES = [
    ("I have crushing chest pain", Emergency.CHEST_PAIN),
    ("my chest really hurts and my arm is tingling", Emergency.CHEST_PAIN),
    ("There's a lot of pressure in my chest", Emergency.CHEST_PAIN),
    ("I think my husband is having a heart attack", Emergency.CHEST_PAIN),
    ("my chest feels tight", Emergency.CHEST_PAIN),
    ("Tengo dolor de pecho muy fuerte", Emergency.CHEST_PAIN),
    ("I can't breathe", Emergency.BREATHING),
    ("I can\u2019t breathe properly", Emergency.BREATHING),
    ("my son is having trouble breathing", Emergency.BREATHING),
    ("she's not breathing!", Emergency.BREATHING),
    ("he can't catch his breath", Emergency.BREATHING),
    ("the baby is choking", Emergency.BREATHING),
    ("his lips are turning blue", Emergency.BREATHING),
    ("no puedo respirar", Emergency.BREATHING),
    ("I think my dad is having a stroke", Emergency.STROKE),
    ("her face is drooping on one side", Emergency.STROKE),
    ("he has slurred speech all of a sudden", Emergency.STROKE),
    ("my mom can't move her arm", Emergency.STROKE),
    ("creo que es un derrame cerebral", Emergency.STROKE),
    ("I cut my hand and it won't stop bleeding", Emergency.BLEEDING),
    ("he is bleeding heavily from his leg", Emergency.BLEEDING),
    ("there is so much blood", Emergency.BLEEDING),
    ("está sangrando mucho", Emergency.BLEEDING),
    ("I want to kill myself", Emergency.SUICIDAL),
    ("I've been having suicidal thoughts", Emergency.SUICIDAL),
    ("I don't want to live anymore", Emergency.SUICIDAL),
    ("I want to end my life", Emergency.SUICIDAL),
    ("me quiero morir", Emergency.SUICIDAL),
    ("my daughter took too many pills", Emergency.OVERDOSE),
    ("I think he overdosed", Emergency.OVERDOSE),
    ("my toddler swallowed bleach", Emergency.OVERDOSE),
    ("my wife is unconscious", Emergency.UNCONSCIOUS),
    ("he collapsed and isn't responding", Emergency.UNCONSCIOUS),
    ("I can't wake him up", Emergency.UNCONSCIOUS),
    ("my dad isn't waking up", Emergency.UNCONSCIOUS),
    ("she's not moving", Emergency.UNCONSCIOUS),
    ("mi padre está inconsciente", Emergency.UNCONSCIOUS),
    ("my son is having a seizure", Emergency.SEIZURE),
    ("her throat is closing up after a bee sting", Emergency.ALLERGIC_REACTION),
    ("I think it's anaphylaxis", Emergency.ALLERGIC_REACTION),
]

ORDINARY = [
    "I'd like to book my chest x-ray appointment",
    "I need a follow-up for my chest x-ray results",
    "Can I see a stroke specialist in neurology?",
    "I had a stroke two years ago and need my yearly check-up",
    "I have no chest pain, I just need a blood pressure check",
    "I'm not having trouble breathing anymore, the inhaler works",
    "My breathing test is next week, can I move it?",
    "What are your visiting hours?",
    "Where do I park?",
    "I need to reschedule my cardiology appointment",
    "I'd like a heart check-up with Doctor Patel",
    "Is the blood test lab open on Saturday?",
    "I need a referral to a dermatologist for a mole",
    "My appointment is not responding on the portal",
    "The website is not responding",
    "Can I bring my kids along when I visit?",
    "Quiero una cita con el doctor Mendoza",
    "",
]


@pytest.mark.parametrize(("text", "kind"), EMERGENCIES)
def test_emergencies_are_detected(text: str, kind: Emergency) -> None:
    assert detect_emergency(text) is kind


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_requests_do_not_trigger(text: str) -> None:
    assert detect_emergency(text) is None


@pytest.mark.parametrize("text", MISSED_BEFORE)
def test_phrasings_the_old_screen_missed_are_caught(text: str) -> None:
    assert detect_emergency(text) is not None


@pytest.mark.parametrize("text", CAUGHT_BEFORE)
def test_routine_callers_the_old_screen_stopped_go_through(text: str) -> None:
    assert detect_emergency(text) is None


def test_the_corpus_is_large_varied_and_bilingual() -> None:
    utterances = emergency_corpus.load()
    assert len(utterances) >= 300
    assert len({u.text.lower() for u in utterances}) == len(utterances), "duplicate utterances"
    counts = Counter((u.language, u.label) for u in utterances)
    for language in ("en", "es"):
        assert counts[language, "emergency"] >= 30
        assert counts[language, "routine"] >= 30
    wanted = {
        "first_person",
        "second_person",
        "third_person",
        "negation",
        "reported_speech",
        "past_event",
        "follow_up",
        "hypothetical",
        "asr",
    }
    for label in ("emergency", "routine"):
        assert {u.category for u in utterances if u.label == label and u.language == "en"} >= wanted
        assert {u.category for u in utterances if u.label == label and u.language == "es"} >= {"negation", "asr"}
    asr = [u.text for u in utterances if u.category == "asr"]
    assert all(text == text.lower() and not any(mark in text for mark in ".,?!") for text in asr)


def test_no_emergency_in_the_corpus_is_missed_and_few_routine_callers_are_caught() -> None:
    figures = emergency_corpus.measure(emergency_corpus.load())
    report = "\n".join(figures.lines())
    print(report)
    assert not figures.missed, report
    assert figures.caught_share <= emergency_corpus.MAX_ROUTINE_CAUGHT, report


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=400) | st.from_regex(r"(?:[a-z ]{0,12}\s){0,60}"))
def test_any_text_is_screened_quickly_and_deterministically(text: str) -> None:
    started = time.perf_counter()
    first = detect_emergency(text)
    assert time.perf_counter() - started < 0.05  # runs on every caller turn: no pathological backtracking
    assert detect_emergency(text) is first


def test_a_long_turn_is_screened_quickly() -> None:
    turn = " ".join(u.text for u in emergency_corpus.load() if u.label == "routine")[:5000]
    started = time.perf_counter()
    detect_emergency(turn)
    assert time.perf_counter() - started < 0.1


def test_detection_ignores_case_and_spacing() -> None:
    assert detect_emergency("MY   CHEST\nHURTS") is Emergency.CHEST_PAIN


def test_message_names_the_configured_number_and_books_nothing() -> None:
    message = emergency_message("112")
    assert "call 112" in message
    assert "hang up" in message
    assert "911" not in message
