"""Emergency detection on many phrasings, and on ordinary requests that must not trigger it."""

from __future__ import annotations

import pytest

from agent.safety import Emergency, detect_emergency, emergency_message

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


def test_detection_ignores_case_and_spacing() -> None:
    assert detect_emergency("MY   CHEST\nHURTS") is Emergency.CHEST_PAIN


def test_message_names_the_configured_number_and_books_nothing() -> None:
    message = emergency_message("112")
    assert "call 112" in message
    assert "hang up" in message
    assert "911" not in message
