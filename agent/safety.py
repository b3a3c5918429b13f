"""Emergency detection that runs on the caller's words before the language model answers.

Two kinds of phrase, English and Spanish:
- *acute* phrases say something is happening now ("he isn't breathing", "my chest hurts", "no respira");
  they count unless directly negated ("I'm not choking", "no me duele el pecho"); one followed by a habit
  ("can't breathe when he runs", "at night") is weighed like a named condition;
- *named* conditions ("a heart attack", "had a stroke", "chest pain", "infarto") are often history, a
  follow-up, a question or an idiom; they count unless directly negated, or unless their sentence reads as
  settled (years ago, a follow-up, "if", a doctor's verdict, "nearly") with nothing saying it is going on now
  ("right now", "minutes ago", "just had", "acaba de").
A negation only governs the words right after it in its own clause: in "oh no he's having a stroke" the "no"
belongs to "oh no", and "he" starts a new clause. Text is compared lower-case, without accents or
apostrophes, so speech-to-text output without punctuation ("hes not waking up", "mi mama") reads the same.

The figures on a labelled corpus of caller utterances (devtools/testing/data/emergency_corpus.jsonl) are checked
by tests/agent/test_safety.py and printed by `make bench`. When in doubt a rule errs towards triggering:
telling a caller with a real emergency to call the emergency number is the one answer that must never be missed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
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
    SEVERE_PAIN = "severe_pain"
    INJURY = "injury"
    PREGNANCY = "pregnancy"


# Patterns run on normalised text: lower case, no accents, no apostrophes ("can't" is "cant", "he's" is "hes").
_PERSON = (
    r"(?:he|she|they|hes|shes|theyre|he is|she is|they are|baby|son|daughter|husband|wife|mom|mum|mother|dad|"
    r"father|child|kid|friend|partner|grandma|grandpa|grandmother|grandfather|brother|sister|neighbou?r|patient|"
    r"man|woman|guy|toddler)"
)
_CANT = r"(?:cant|cannot|can not|unable to|couldnt|struggling to|barely|can barely|hardly)"
_POSSESSIVE = r"(?:my|his|her|their|the|the babys|our)"
_BODY_SIDE = r"(?:(?:left|right) )?(?:arm|arms|leg|legs|face|side|hand)"
_PILLS = r"(?:pills|tablets|medicine|medication|meds|insulin|painkillers|sleeping pills|pain pills)"
_TOO_MUCH = (
    r"(?:way )?too (?:many|much)|a (?:whole )?(?:bottle|bunch|handful|lot|load) of|all (?:of )?(?:my|his|her|the|their)"
)
# "having a seizure assessment" is an appointment, not a seizure.
_NOT_A_SERVICE = (
    r"(?! (?:assessment|test|tests|clinic|appointment|medication|meds|review|plan|specialist|unit|scan|eeg|diary))"
)
_CHEST_ACHE = r"(?:hurts?|hurting|is killing|tight|tightness|pressure|crushing|aches?|aching|burning|squeezing|heavy)"
# Up to three words inside a phrase, none of them a negation ("my chest really hurts", not "my chest doesn't hurt").
_FILLER = r"(?: (?!(?:not|no|dont|doesnt|didnt|isnt|wasnt|never)\b)\w+){0,3}"

_ACUTE: dict[Emergency, list[str]] = {
    Emergency.CHEST_PAIN: [
        rf"\bchest\b{_FILLER} {_CHEST_ACHE}\b",
        rf"\bpain{_FILLER} (?:going|spreading|radiating|shooting) (?:in)?(?:to|down|up)"
        rf" {_POSSESSIVE} (?:jaw|left arm|arm)\b",
        rf"\bsitting on {_POSSESSIVE} chest\b",
        r"\b(?:heart|chest) (?:is |feels )?(?:being |like its being |like it is being )?(?:squeezed|crushed)\b",
        r"\bpecho apretado\b",
        rf"\b(?:crushing|severe|terrible|horrible|unbearable|really bad|bad|sharp) (?:chest )?pains?"
        rf" in {_POSSESSIVE} chest\b",
        rf"\b(?:pain|pressure|tightness|weight|squeezing|crushing|heavy|tight|burning)(?: \w+){{0,2}} (?:in|on|across)"
        rf" {_POSSESSIVE} chest\b",
        r"\bcrushing (?:chest )?pains?\b",
        r"\b(?:really bad|very bad|severe|terrible|horrible|sharp|unbearable) chest pains?\b",
        rf"\bclutching {_POSSESSIVE} chest\b",
        r"\bhaving a heart attack\b",
        r"\b(?:me|le|nos|les) duele (?:mucho |muchisimo )?el pecho\b",
        r"\b(?:dolor|presion|opresion)(?: muy| tan)?(?: fuerte| intensa?| terrible| horrible| insoportable)?"
        r" en el pecho\b",
        r"\bdolor (?:muy |tan )?(?:fuerte|intenso|terrible|horrible|insoportable) (?:en|de|del) (?:el )?pecho\b",
        r"\b(?:esta|estoy) (?:teniendo|sufriendo) un (?:infarto|ataque al corazon|ataque cardiaco)\b",
        r"\ble esta dando un (?:infarto|ataque)\b",
    ],
    Emergency.BREATHING: [
        rf"\b{_CANT} (?:breathe?|breathing)\b",
        r"\b(?:not|isnt|is not|arent|wasnt|stopped|has stopped|no longer|barely) breathing\b",
        rf"\bdont think {_PERSON}(?: s)? (?:is |are )?breathing\b",
        rf"\b{_CANT} (?:catch|get) {_POSSESSIVE} breath\b",
        r"\bgasping\b",
        r"\bchoking\b",
        r"\b(?:lips|face|skin) (?:is |are |turning |going |look |looks )*(?:blue|purple|grey|gray)\b",
        r"\b(?:tur(?:ning|ned|n)|gone|going|went) (?:blue|purple|grey|gray)\b",
        r"\bhaving an?(?: \w+){0,2} asthma attack\b",
        r"\binhaler (?:isnt|is not|doesnt|does not|wont|is not) (?:working|helping)\b",
        r"\bbreathing (?:funny|strangely|weird|weirdly|oddly|really fast and shallow)\b",
        r"\bno (?:puedo|puede|podemos) respirar\b",
        r"\bno (?:esta |estan )?respira(?:r|ndo|n)?\b",
        r"\b(?:me|se|te) (?:esta |estoy )?ahog(?:o|a|ando)\b",
        r"\blabios (?:morados|azules)\b",
        r"\b(?:me|le|nos|les) falta (?:el )?aire\b",
        r"\b(?:poniendo|puso|esta|se ve) (?:azul|morad[oa])\b",
    ],
    Emergency.STROKE: [
        rf"\bhaving a stroke\b{_NOT_A_SERVICE}",
        r"\b(?:face|mouth|smile) (?:is |looks |went |has gone |seems |all )*"
        r"(?:drooping|droops|droopy|crooked|lopsided)\b",
        r"\bdroop(?:ing|y)? (?:face|mouth|smile)\b",
        r"\bslurr(?:ed|ing)\b",
        r"\b(?:speech|talking|words) (?:is |are )?slurred\b",
        rf"\b{_CANT} (?:move|feel|lift) {_POSSESSIVE} {_BODY_SIDE}\b",
        r"\b(?:cant|cannot) (?:speak|talk) (?:properly|right|clearly)\b",
        rf"\b{_CANT} get {_POSSESSIVE} words out\b",
        rf"\b{_PERSON} (?:cant|cannot|can not) (?:speak|talk)\b",
        r"\b(?:boca|cara) (?:torcida|caida|chueca)\b",
        r"\bnumb(?:ness)? on one side\b",
        r"\b(?:arm|leg|side|face)s? (?:has |have |is |are |went |gone |going |feels |all )+(?:weak|numb|limp|dead|"
        r"paralysed|paralyzed)\b",
        rf"\b(?:one side|half) of {_POSSESSIVE} (?:face|body) (?:is |feels |went )?(?:numb|drooping|weak|paralyzed)\b",
        rf"\bhalf {_POSSESSIVE} (?:face|body) (?:is |feels |went )?(?:numb|drooping|weak|paralyzed)\b",
        r"\bworst headache of (?:my|his|her) life\b",
        r"\bcara caida\b",
        r"\bno (?:puede|puedo) (?:mover|hablar|sentir)\b",
    ],
    Emergency.BLEEDING: [
        r"\bbleeding(?: \w+){0,3} (?:heavily|badly|bad|a lot|profusely|everywhere|non ?stop|through)\b",
        r"\b(?:wont|will not|doesnt|does not|cant|cannot) stop (?:the )?bleeding\b",
        r"\bbleeding (?:that |which )?(?:wont|will not|doesnt|does not) stop\b",
        r"\b(?:severe|heavy|uncontrolled|massive) bleeding\b",
        r"\b(?:losing|lost) a lot of blood\b",
        r"\b(?:so much|lots of|a lot of) blood\b",
        r"\bblood (?:is )?(?:everywhere|gushing|pouring|spurting|pumping)\b",
        r"\b(?:pumping|spurting|gushing|pouring) (?:out )?blood\b",
        r"\b(?:coughing|throwing|spitting) up blood\b",
        r"\bvomiting blood\b",
        r"\bsangr(?:ando|a) (?:mucho|sin parar|muchisimo)\b",
        r"\bno (?:para|deja) de (?:salir(?:le|me)? sangre|sangrar)\b",
        r"\bsale mucha sangre\b",
        r"\bhemorragia\b",
        r"\b(?:vomitando|tosiendo) sangre\b",
    ],
    Emergency.SUICIDAL: [
        r"\bkill(?:ing)? (?:myself|himself|herself|themselves)\b",
        r"\bsuicid(?:e|al)\b",
        r"\bend(?:ing)? (?:my|his|her|their) (?:own )?life\b",
        r"\b(?:want|wants|going|planning) to die\b",
        r"\bdont want to (?:live|be alive|be here)\b",
        r"\b(?:hurt|harm|cut)(?:ing)? (?:myself|himself|herself)\b",
        r"\bself harm\b",
        r"\bbetter off dead\b",
        r"\b(?:dont|cant) see (?:the|any) point (?:anymore|any more|in living|of living|in going on|in being alive)\b",
        r"\bno (?:reason|point) (?:to|in) (?:live|living|go on|going on)\b",
        r"\bcant go on\b",
        r"\bend it all\b",
        r"\b(?:thoughts|thinking) (?:of|about) (?:ending it|ending (?:my|his|her) life|dying|suicide)\b",
        r"\b(?:going|want|wants|planning) to end it\b",
        r"\bno quiero (?:vivir|seguir viviendo|estar vivo|estar viva)\b",
        r"\b(?:me|se|te) quiere?o? (?:matar|morir)\b",
        r"\bquiero (?:matarme|morirme|suicidarme)\b",
        r"\bquitar(?:me|se|te) la vida\b",
        r"\bsuicid(?:arme|arse|io)\b",
    ],
    Emergency.OVERDOSE: [
        rf"\b(?:took|taken|swallowed|ate|had) (?:{_TOO_MUCH})(?: \w+){{0,3}} {_PILLS}\b",
        r"\b(?:swallowed|drank|ate|drunk) (?:some |a |the )?(?:bleach|poison|detergent|antifreeze|drain cleaner|"
        r"(?:button )?batter(?:y|ies)|magnets?)\b",
        r"\bpoison(?:ed|ing)\b",
        r"\b(?:took|taken|swallowed|had) (?:\d+|twenty|thirty|forty|fifty|a hundred)(?: \w+)?"
        r" (?:pills|tablets|paracetamol|tylenol|acetaminophen|ibuprofen|aspirin|advil|painkillers)\b",
        r"\b(?:ate|swallowed|drank|bit into|chewed)(?: some of)? (?:the |a |some )?"
        r"(?:dishwasher|laundry|detergent|washing) (?:pods?|tablets?|capsules?|liquid)\b",
        r"\bsobredosis\b",
        r"\benvenenad[oa]\b",
        r"\btom(?:o|e|aron) (?:muchas|demasiadas|todas las|un monton de)(?: \w+){0,2}"
        r" (?:pastillas|pildoras|medicinas)\b",
        r"\bpastillas del frasco\b",
        rf"\bgot into {_POSSESSIVE}(?: \w+){{0,2}} {_PILLS}\b",
        r"\b(?:ate|swallowed|took) a (?:whole )?handful\b",
        r"\b(?:frasco|bote|caja) (?:entero |entera )?de (?:pastillas|pildoras)\b",
        r"\b(?:drank|swallowed|ate|drunk)(?: some of)? (?:the |some )?"
        r"(?:stuff|cleaner|cleaning \w+|chemicals?|something) (?:under|from under) the sink\b",
        r"\b(?:drank|swallowed|drunk) (?:some )?(?:chemicals?|cleaning (?:stuff|products?|fluid|liquid))\b",
        r"\bse trago (?:una pila|pilas|cloro|veneno|pastillas|un iman)\b",
    ],
    Emergency.UNCONSCIOUS: [
        r"\bunconscious\b",
        r"\b(?:not|isnt|is not|no longer) conscious\b",
        r"\bno esta consciente\b",
        r"\bunresponsive\b",
        rf"\b{_PERSON}s?\b(?: \w+){{0,4}} (?:not|isnt|is not|arent|wont|will not|doesnt|does not)"
        r" (?:responding|respond|moving|talking|making (?:any )?sense)\b",
        r"\b(?:is|hes|shes|went|gone|seems|looks) (?:all )?(?:floppy|limp)\b",
        r"\beyes (?:are )?rolling\b",
        r"\bkeeled over\b",
        r"\bdropped to the (?:floor|ground)\b",
        r"\b(?:fell|fall|fallen)\b.{0,60}\b(?:cant|cannot|can not) get (?:up|him up|her up)\b",
        r"\b(?:not|isnt|is not|arent|wont|will not|doesnt) wak(?:ing|e) up\b",
        r"\b(?:cant|cannot|can not|couldnt) (?:wake|rouse) (?:him|her|them|my \w+)\b",
        r"\bcollapsed\b",
        r"\b(?:no pulse|cant feel (?:a|his|her) pulse)\b",
        r"\binconsciente\b",
        r"\bno (?:responde|reacciona|se despierta|despierta|abre los ojos)\b",
        r"\bse desplomo\b",
    ],
    Emergency.SEIZURE: [
        rf"\bhaving (?:a )?seizures?\b{_NOT_A_SERVICE}",
        r"\bfoaming at the mouth\b",
        r"\b(?:shaking|jerking|twitching) (?:all over|uncontrollably)\b",
        r"\bseizing\b",
        r"\bconvuls(?:ing|ionando)\b",
        r"\bhaving (?:a )?fits?\b",
        r"\bfitting\b",
        r"\btemblando (?:en el suelo|sin parar|todo el cuerpo|toda)\b",
    ],
    Emergency.ALLERGIC_REACTION: [
        r"\banaphyla(?:xis|ctic)\b",
        r"\bthroat (?:is |feels )?(?:closing|swelling|swollen|tight)\b",
        r"\b(?:tongue|lips|face|throat) (?:is |are )?(?:swelling|swollen) up\b",
        r"\b(?:tongue|lips) (?:is |are )?(?:swelling|swollen)\b",
        r"\b(?:severe|bad) allergic reaction\b",
        r"\bhaving an allergic reaction\b",
        r"\b(?:cant|cannot) swallow\b",
        r"\bcerrando la garganta\b",
        r"\bgarganta (?:cerrada|hinchada)\b",
    ],
    Emergency.SEVERE_PAIN: [
        r"\bin (?:absolute |complete )?agony\b",
        r"\bworst pain (?:of|in) (?:my|his|her) life\b",
        r"\bappendix (?:burst|has burst|ruptured)\b",
        r"\bdolor (?:insoportable|inaguantable)\b",
    ],
    Emergency.INJURY: [
        r"\b(?:hit|knocked down|run over) by a (?:car|truck|bus|van|motorbike|train)\b",
        r"\b(?:been|was|got|is|were|are) (?:stabbed|shot)\b",
        r"\bfell (?:off|from) (?:a|the) (?:roof|ladder|balcony|window|scaffolding)\b",
        r"\batropellad[oa]\b",
        r"\b(?:lo|la|le) atropello\b",
        rf"\b(?:hit|banged|bumped) {_POSSESSIVE} head\b.{{0,60}}\b(?:throwing up|vomiting|drowsy|sleepy|confused|"
        r"not making sense|passed out|unconscious)\b",
        r"\b(?:se pego|se golpeo|golpe) (?:en )?la cabeza\b.{0,60}\b(?:vomit\w*|dormid[oa]|somnolient[oa]|"
        r"confundid[oa]|desmay\w*)\b",
    ],
    Emergency.PREGNANCY: [
        r"\bpregnant\b.{0,60}\b(?:bleeding|really bad pain|severe pain|waters? (?:has |have )?broken|waters? broke)\b",
        r"\bembarazada\b.{0,60}\b(?:sangr\w*|dolor muy fuerte|rompio la fuente|rompio fuente)\b",
    ],
}

_NAMED: dict[Emergency, list[str]] = {
    Emergency.CHEST_PAIN: [
        r"\bheart attack\b",
        r"\bchest pains?\b",
        r"\bdolor (?:en|de|del) (?:el )?pecho\b",
        r"\binfarto\b",
        r"\bataque (?:al|de) corazon\b",
    ],
    Emergency.BREATHING: [
        r"\b(?:trouble|difficulty|problems?|hard time) breathing\b",
        r"\bwheezing\b",
        r"\bshort(?:ness)? of breath\b",
    ],
    Emergency.STROKE: [
        rf"\b(?:had|has had|suffered|having|have had) an? (?:massive |mini |small |major )?stroke\b{_NOT_A_SERVICE}",
        r"\b(?:think|thinks|could|might|may) (?:its|it is|this is|this be|it be|be having) an? stroke\b",
        r"\bderrame(?: cerebral)?\b",
        r"\b(?:ictus|embolia)\b",
    ],
    Emergency.UNCONSCIOUS: [
        r"\bpassed out\b",
        r"\bfainted\b",
        r"\b(?:se )?(?:desmayo|desmayado|desmayar)\b",
        r"\bblacked out\b",
    ],
    Emergency.OVERDOSE: [
        r"\boverdos(?:e|ed|ing)\b",
        r"\b(?:an|una) (?:overdose|sobredosis)\b",
    ],
    Emergency.SEIZURE: [
        rf"\b(?:had|has|have|having) (?:a |another )?seizures?\b{_NOT_A_SERVICE}",
        r"\bconvulsion(?:es)?\b",
        r"\ble (?:dio|dan|da) (?:un ataque|ataques)\b",
    ],
    Emergency.ALLERGIC_REACTION: [
        r"\ballergic reaction\b",
        r"\b(?:covered in|broken out in|breaking out in) hives\b",
    ],
}

# A named condition in a sentence like these is history, routine business, a question or a figure of speech...
_SETTLED = re.compile(
    r"\b(?:"
    r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|several|a few|many|some|a couple of|couple of)"
    r" (?:years?|months?|weeks?) ago|years ago|months ago|weeks ago"
    r"|(?:a while|a long time|long time|ages) ago"
    r"|(?:last|next) (?:year|month|week|spring|summer|fall|autumn|winter|time)"
    r"|(?:in|back in|since) (?:19|20)\d\d|in (?:nineteen|twenty|two thousand)"
    r"|(?:in|back in|since) (?:january|february|march|april|june|july|august|september|october|november|december)"
    r"|back in|years back|as a (?:kid|child|baby|teenager)|when (?:i|he|she) was (?:a |little|young)"
    r"|history of|previous|prior|used to"
    r"|(?:since|after) (?:my|his|her|the|their)"
    r"|follow ?ups?|check ?ups?|checkups?|yearly|annual|rehab|referral|refer|screen(?:ed|ing)?|risk|results?"
    r"|billing|bill|insurance|appointments?|book|booking|schedule|reschedule|cancel"
    r"|medications?|meds|prescriptions?|refill"
    r"|cardiolog\w*|neurolog\w*|physio\w*|therapy|specialist|clinic|scan|echo|survivors?|support group"
    r"|the er|er visit|emergency room|discharged|died of|passed away"
    r"|if (?:i|he|she|they|we|you|it|my|his|her|there)|in case|what should|signs of|who (?:have|has) had|people who"
    r"|(?:doctor|dr \w+|gp|cardiologist|neurologist|nurse|pharmacist|they) (?:said|says|thinks|told)"
    r"|turned out|nothing serious|probably"
    r"|(?:is|feels|much|a lot) better|anymore|doing fine|fine now|all clear|recovered|recovering|recovery"
    r"|nearly|almost|when i saw"
    r"|when (?:i|he|she|they|we) (?:\w+ )?(?:climbs?|walks?|runs?|exercises?|works? out|plays?|gets? (?:a cold|upset))"
    r"|every (?:day|morning|night|afternoon)|at night|in (?:the )?cold|during (?:sports?|exercise|gym|pe)"
    r"|sometimes|on and off|comes and goes|for (?:weeks|months|years)"
    r"|hace (?:\w+ )?(?:anos?|mes|meses|semanas?|dias|tiempo)|el (?:ano|mes) pasado|la semana pasada|en (?:19|20)\d\d"
    r"|de (?:nino|nina|pequeno|pequena|chico|chica)|despues del?|desde (?:el|la|mi|su)"
    r"|citas?|seguimiento|revision|control|chequeo|recetas?|consulta|fisioterapia|resultados"
    r"|si (?:mi|me|le|tiene|tengo|vuelve|el|la|tu|su)|en caso de|que hago|(?:doctor|doctora|medico) dijo"
    r"|muscular|ya no|mejor"
    r"|difference between|what is an?|whats an?|whats the|do you (?:treat|see|take)"
    r")\b"
)
# ...unless it also says the thing is happening now.
_ONGOING = re.compile(
    r"\b(?:"
    r"right now|just now|at the moment|currently|as we speak|still|getting worse|worse and worse"
    r"|all of a sudden|suddenly|this (?:morning|afternoon|evening)|tonight"
    r"|(?:a few |a couple of |\d+ |one |two |five |ten |fifteen |twenty |thirty )?(?:seconds?|minutes?|mins?) ago"
    r"|an hour ago|just (?:had|collapsed|passed|fainted|took|swallowed|started)"
    r"|please help|help please|help me please|somebody help|someone help|send help|ambulance"
    r"|ahora mismo|ahorita|en este momento|acaba de|acaban de|de repente|ayuda(?:me)? por favor|ayudeme|ambulancia"
    r"|todavia|sigue"
    r")\b"
)
# An acute phrase followed by a habit ("can't breathe when he runs") is weighed like a named condition.
_HABIT_AFTER = re.compile(
    r"(?: \w+){0,2} (?:when (?:i|he|she|they|we|it)|in (?:the )?cold|at night|sometimes|every|"
    r"after (?:exercise|exercising|running|sports|eating)|during (?:sports?|exercise|the night))\b"
)
_NEGATIONS = frozenset(
    {
        *("no", "not", "never", "without", "none", "nothing", "dont", "doesnt", "didnt", "isnt", "wasnt", "arent"),
        *("werent", "havent", "hasnt", "hadnt", "nunca", "sin", "ni", "tampoco"),
    }
)
# Words that start a new clause: a negation before one of these does not reach past it.
_CLAUSE_STARTS = frozenset(
    {
        *("and", "but", "so", "because", "or", "then", "i", "im", "ive", "he", "hes", "she", "shes", "they", "theyre"),
        *("we", "you", "youre", "it", "its", "my", "his", "her", "their", "our"),
        *("y", "pero", "que", "porque", "mi", "su", "sus", "el", "ella", "ellos", "yo"),
    }
)
_NEGATION_REACH = 4  # words between a negation and the phrase it negates ("not having any trouble breathing")

_SENTENCES = re.compile(r"[.!?;\u00bf\u00a1]+")
_APOSTROPHES = re.compile(r"['\u2019\u2018\u02bc`]")
_DASHES = re.compile(r"[-\u2010-\u2015]")


def _compile(rules: dict[Emergency, list[str]]) -> list[tuple[Emergency, re.Pattern[str]]]:
    return [(kind, re.compile("|".join(f"(?:{rule})" for rule in patterns))) for kind, patterns in rules.items()]


_ACUTE_PATTERNS = _compile(_ACUTE)
_NAMED_PATTERNS = _compile(_NAMED)


def normalise(text: str) -> str:
    """Lower case, no accents, apostrophes or dashes, single spaces: how speech-to-text may write it anyway."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char)).lower()
    return " ".join(_DASHES.sub(" ", _APOSTROPHES.sub("", plain)).split())


def _negated(before: str) -> bool:
    """Whether the words just before a phrase negate it within the same clause."""
    for word in reversed(before.split()[-_NEGATION_REACH - 1 :]):
        if word.endswith((",", ":")):
            return False
        if word in _NEGATIONS:
            return True
        if word in _CLAUSE_STARTS:
            return False
    return False


def _matches(sentence: str, patterns: list[tuple[Emergency, re.Pattern[str]]]) -> Iterator[tuple[Emergency, int]]:
    """(kind, end) of each phrase in the sentence that is not negated."""
    for kind, pattern in patterns:
        for match in pattern.finditer(sentence):
            if not _negated(sentence[: match.start()]):
                yield kind, match.end()


def detect_emergency(text: str) -> Emergency | None:
    """The kind of emergency the caller describes, or None."""
    for sentence in _SENTENCES.split(normalise(text)):
        named: list[Emergency] = []
        for kind, end in _matches(sentence, _ACUTE_PATTERNS):
            if not _HABIT_AFTER.match(sentence, end):
                return kind
            named.append(kind)
        named += [kind for kind, _ in _matches(sentence, _NAMED_PATTERNS)]
        if named and (not _SETTLED.search(sentence) or _ONGOING.search(sentence)):
            return named[0]
    return None


def emergency_message(emergency_number: str, *, can_transfer: bool = False) -> str:
    """What the receptionist says at once: short, direct, nothing booked; a live transfer where the line has one.

    The line stays open after it: the caller's answer (yes to a transfer, or anything else) is heard.
    """
    advice = (
        f"This sounds like an emergency. Please hang up now and call {emergency_number} right away. "
        f"If you can't call, ask someone near you to call {emergency_number}."
    )
    if can_transfer:
        return f"{advice} Or I can put you through to a member of our staff right now. Shall I?"
    return f"{advice} I can't help with emergencies on this line, and I won't book anything."
