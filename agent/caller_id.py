"""The phone caller's number (caller ID), as LiveKit's SIP service reports it.

LiveKit sets the participant attribute `sip.phoneNumber` on a SIP participant: for an inbound call, the number
the call comes from (docs.livekit.io/reference/telephony/sip-participant). Only a SIP participant's attribute
counts: a web participant may be allowed to set its own attributes, and LiveKit's SIP service sets these.

Caller ID is what the caller's phone network says, and it can be spoofed. It serves two purposes:
- the number to call back when the call's voice fails (agent/speech_outage.py);
- a stand-in for the spoken phone number when verifying a caller (agent/tools/identity.py): never for the name,
  never alone, and never shown to the model.
"""

from __future__ import annotations

from livekit import rtc

from agent.hospital.rules import PHONE

CALLER_NUMBER_ATTRIBUTE = "sip.phoneNumber"


def caller_id(participant: rtc.RemoteParticipant | None) -> str | None:
    """The caller's number in E.164 form; None for a web caller, a withheld number, or anything malformed."""
    if participant is None or participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_SIP:
        return None
    number = participant.attributes.get(CALLER_NUMBER_ATTRIBUTE)
    return number if isinstance(number, str) and PHONE.match(number) else None
