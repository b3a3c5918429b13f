"""Emergency detection that runs on the caller's words before the language model answers.

Rules are phrase patterns, not single words, so "my chest x-ray appointment" or "a stroke specialist"
do not trigger while "my chest hurts" or "I think he's having a stroke" do. A match directly preceded by
a negation ("no chest pain") does not count. English and Spanish. When in doubt a rule errs towards
triggering: telling a caller with a real emergency to hang up and dial the emergency number is the
one answer that must never be missed.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Emergency(StrEnum):
    CHEST_PAIN = "chest_pain"
    BREATHING = "breathing"
    STROKE = "stroke"
    BLEEDING = "bleeding"
    SUICIDAL = "suicidal"
    OVERDOSE = "overdose"
    UNCONSCIOUS = "unconscious"
    SEIZURE = "seizure"
    ALLERGIC_REACTION = "allergic_reaction"


_WHO = r"(?:my|his|her|their|the baby'?s|the)"
_PERSON = (
    r"(?:he|she|they|baby|son|daughter|husband|wife|mom|mum|dad|father|mother|child|kid|friend|partner|"
    r"grandma|grandpa|brother|sister|patient)"
)
_CANT = r"(?:can'?t|cannot|can not|unable to|could ?n'?t|struggling to|hard to|barely)"

_RULES: dict[Emergency, list[str]] = {
    Emergency.CHEST_PAIN: [
        r"\bchest\b(?:\s+\w+){0,2}\s+(?:pains?|hurts?|hurting|tight(?:ness)?|pressure|crushing|aches?|aching)\b",
        rf"\b(?:pains?|pressure|tightness|crushing|ache)\s+(?:in|on)\s+{_WHO}\s+chest\b",
        r"\bheart attack\b",
        r"\bdolor (?:en el|de|del) pecho\b",
        r"\bme duele (?:mucho )?el pecho\b",
        r"\bataque (?:al|de) coraz[oó]n\b",
        r"\binfarto\b",
    ],
    Emergency.BREATHING: [
        rf"\b{_CANT} breathe?\b",
        r"\b(?:not|stopped|isn'?t|is not|aren'?t|wasn'?t) breathing\b",
        r"\b(?:trouble|difficulty|problems?) breathing\b",
        rf"\b{_CANT} (?:catch|get) {_WHO} breath\b",
        r"\bgasping for (?:air|breath)\b",
        r"\bchoking\b",
        r"\b(?:lips|face) (?:is |are |turning |going )+blue\b",
        r"\bno puedo respirar\b",
        r"\bno (?:puede|est[aá]) respira(?:r|ndo)\b",
        r"\bme ahogo\b",
    ],
    Emergency.STROKE: [
        r"\bhaving a stroke\b",
        r"\b(?:just )?had a stroke (?:just now|right now|today|this morning|a few minutes ago|an hour ago)\b",
        r"\b(?:face|mouth|smile) (?:is )?(?:drooping|droops|droopy|crooked)\b",
        r"\bdroop(?:ing|y)? (?:face|mouth|smile)\b",
        r"\bslurr(?:ed|ing) (?:speech|words|his words|her words|my words)\b",
        r"\b(?:speech|talking) is slurred\b",
        rf"\b{_CANT} (?:move|feel) {_WHO} (?:arm|leg|face|side)\b",
        r"\bnumb(?:ness)? on one side\b",
        rf"\bone side of {_WHO} (?:face|body) (?:is )?(?:numb|drooping|weak|paralyzed)\b",
        r"\bderrame cerebral\b",
        r"\b(?:ictus|embolia)\b",
    ],
    Emergency.BLEEDING: [
        r"\bbleeding (?:heavily|badly|a lot|profusely|everywhere|non ?stop)\b",
        r"\b(?:won'?t|will not|doesn'?t|does not|can'?t|cannot) stop (?:the )?bleeding\b",
        r"\bbleeding (?:that |which )?(?:won'?t|will not|doesn'?t|does not) stop\b",
        r"\b(?:severe|heavy|uncontrolled|massive) bleeding\b",
        r"\b(?:losing|lost) a lot of blood\b",
        r"\b(?:so much|lots of|a lot of) blood\b",
        r"\bblood (?:is )?(?:everywhere|gushing|pouring|spurting)\b",
        r"\bsangr(?:ando|a) (?:mucho|sin parar)\b",
        r"\bhemorragia\b",
    ],
    Emergency.SUICIDAL: [
        r"\bkill(?:ing)? (?:myself|himself|herself)\b",
        r"\bsuicid(?:e|al)\b",
        r"\bend (?:my|his|her) (?:own )?life\b",
        r"\b(?:want|going|planning) to die\b",
        r"\bdon'?t want to (?:live|be alive)\b",
        r"\b(?:hurt|harm|cut)(?:ing)? (?:myself|himself|herself)\b",
        r"\bself[- ]harm\b",
        r"\bbetter off dead\b",
        r"\bme quiero (?:matar|morir)\b",
        r"\bquiero (?:matarme|morirme|suicidarme)\b",
        r"\bsuicid(?:arme|io)\b",
    ],
    Emergency.OVERDOSE: [
        r"\boverdos(?:e|ed|ing)\b",
        r"\b(?:took|taken|swallowed|ate) (?:too (?:many|much)|a (?:whole )?bottle of|all (?:of )?(?:my|his|her|the))"
        r" (?:of (?:my|his|her|the) )?(?:pills|tablets|medicine|medication|meds|insulin|painkillers)\b",
        r"\bswallowed (?:bleach|poison|detergent)\b",
        r"\bpoison(?:ed|ing)\b",
        r"\bsobredosis\b",
        r"\benvenenad[oa]\b",
    ],
    Emergency.UNCONSCIOUS: [
        r"\bunconscious\b",
        r"\bunresponsive\b",
        rf"\b{_PERSON}(?:'s|'re| is| are)?\s+(?:not|isn'?t|aren'?t)\s+(?:responding|waking up|moving)\b",
        r"\b(?:won'?t|will not|can'?t|cannot) (?:wake (?:him|her|them) up|be woken|wake up)\b",
        r"\bpassed out\b",
        r"\bcollapsed\b",
        r"\bno pulse\b",
        r"\binconsciente\b",
        r"\bno (?:responde|despierta)\b",
        r"\bse desmay[oó]\b",
    ],
    Emergency.SEIZURE: [
        r"\b(?:having|had|is having) a seizure\b",
        r"\bseizing\b",
        r"\bconvuls(?:ing|ions?)\b",
        r"\b(?:una )?convulsi[oó]n\b",
    ],
    Emergency.ALLERGIC_REACTION: [
        r"\banaphyla(?:xis|ctic)\b",
        r"\bthroat (?:is )?(?:closing|swelling|swollen)\b",
        r"\b(?:tongue|lips|face) (?:is |are )?swelling up\b",
        r"\bsevere allergic reaction\b",
    ],
}

_COMPILED = {kind: [re.compile(rule, re.IGNORECASE) for rule in rules] for kind, rules in _RULES.items()}
# "no chest pain", "not having a stroke", "never had trouble breathing", "sin dolor de pecho"
_NEGATION_BEFORE = re.compile(
    r"\b(?:no|not|never|without|isn'?t|don'?t have|doesn'?t have|no longer|sin|nunca)\b(?:\s+\w+){0,2}\s*$",
    re.IGNORECASE,
)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'"})


def detect_emergency(text: str) -> Emergency | None:
    """The kind of emergency the caller describes, or None."""
    text = " ".join(text.translate(_APOSTROPHES).split())
    for kind, rules in _COMPILED.items():
        for rule in rules:
            for match in rule.finditer(text):
                if not _NEGATION_BEFORE.search(text[: match.start()]):
                    return kind
    return None


def emergency_message(emergency_number: str) -> str:
    """What the receptionist says at once: short, direct, nothing booked."""
    return (
        f"This sounds like an emergency. Please hang up now and call {emergency_number} right away. "
        f"If you can't call, ask someone near you to call {emergency_number}. I can't help with emergencies "
        "on this line, and I won't book anything."
    )
