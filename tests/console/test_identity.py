"""The load balancer's signed identity, verified with keys made here (the ALB and Cognito stand-ins).

Token shapes follow the ALB documentation and awslabs/aws-jwt-verify (src/alb-verifier.ts): an ES256 data token
with `kid`, `signer` and `client` in its header, and Cognito's RS256 access token carrying `cognito:groups`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import ClassVar

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from console.identity import (
    ACCESS_TOKEN_HEADER,
    DATA_HEADER,
    AlbPublicKeys,
    AlbTrust,
    IdentityRefused,
    verify_alb_identity,
)
from tests.console.tokens import (
    ALB_ARN,
    ALB_KEY,
    ALB_KEYS,
    ALB_KID,
    CLIENT_ID,
    COGNITO_KEYS,
    ISSUER,
    OTHER_ALB_ARN,
    SUB,
    TRUST,
    access_token,
    data_token,
)


def verify(data: str | None, access: str | None = None):
    headers = {DATA_HEADER: data, ACCESS_TOKEN_HEADER: access_token() if access is None else access}
    return verify_alb_identity(
        {k: v for k, v in headers.items() if v is not None},
        TRUST,
        alb_keys=ALB_KEYS.__getitem__,
        cognito_keys=COGNITO_KEYS.__getitem__,
    )


def test_a_valid_identity_gives_the_user_and_roles() -> None:
    who = verify(data_token(), access_token(groups=["admin", "frontdesk", "unrelated"]))
    assert (who.username, who.email, who.roles) == ("alice", "alice@example.org", frozenset({"admin", "frontdesk"}))
    assert who.actor == "staff:alice"
    assert who.is_admin


def _padded(token: str) -> str:
    """The ALB's tokens keep base64 padding ('='), which strict decoders reject; ours must not."""
    parts = token.split(".")
    repadded = [part + "=" * (-len(part) % 4) for part in parts[:2]]
    signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
    message = ".".join(repadded).encode()
    raw = jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256).sign(message, ALB_KEY)
    assert len(signature) == len(raw)
    return ".".join([*repadded, base64.urlsafe_b64encode(raw).decode()])


def test_padded_base64_as_the_alb_sends_it_verifies() -> None:
    token = data_token()
    padded = _padded(token)
    assert padded != token
    assert verify(padded).username == "alice"


def _tampered(token: str) -> str:
    header, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    return ".".join([header, _segment({**claims, "username": "mallory"}), signature])


def _hs256_with_public_key() -> str:
    """The classic confusion: HMAC 'signed' with the public key as the secret."""
    pem = ALB_KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    payload = {"sub": SUB, "iss": ISSUER, "exp": int(time.time()) + 60}
    headers = {"kid": ALB_KID, "signer": ALB_ARN, "client": CLIENT_ID}
    headers = {"alg": "HS256", "typ": "JWT", **headers}
    signing_input = ".".join(_segment(part) for part in (headers, payload)).encode()
    signature = hmac.new(pem, signing_input, hashlib.sha256).digest()
    return signing_input.decode() + "." + base64.urlsafe_b64encode(signature).decode().rstrip("=")


def _segment(part: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")


REFUSALS = {
    "missing": (lambda: None, "no signed identity"),
    "not a token": (lambda: "not-a-jwt", "not a signed token"),
    "expired": (lambda: data_token(expires_in=-120), "expired"),
    "wrong signer": (lambda: data_token(signer=OTHER_ALB_ARN), "another load balancer"),
    "wrong algorithm": (_hs256_with_public_key, "unexpected algorithm"),
    "unknown kid": (lambda: data_token(kid="ffffffff-0000-0000-0000-000000000000"), "unknown key"),
    "kid with a path": (lambda: data_token(kid="../../evil"), "no valid signing key"),
    "other key, same kid": (lambda: data_token(key=ec.generate_private_key(ec.SECP256R1())), "do not verify"),
    "tampered": (lambda: _tampered(data_token()), "do not verify"),
    "other issuer": (lambda: data_token(iss="https://cognito-idp.us-east-1.amazonaws.com/other"), "do not verify"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_bad_data_tokens_are_refused(case: str) -> None:
    make, reason = REFUSALS[case]
    with pytest.raises(IdentityRefused, match=reason) as refused:
        verify(make())
    assert "alice" not in str(refused.value)


ACCESS_REFUSALS = {
    "no groups": (lambda: access_token(groups=[]), "neither console group"),
    "unrelated group": (lambda: access_token(groups=["billing"]), "neither console group"),
    "other user": (lambda: access_token(sub="someone-else"), "another user"),
    "other client": (lambda: access_token(client_id="other-client"), "not this console's"),
    "an id token": (lambda: access_token(token_use="id"), "not this console's"),
    "expired": (lambda: access_token(expires_in=-120), "expired"),
}


@pytest.mark.parametrize("case", list(ACCESS_REFUSALS))
def test_bad_access_tokens_are_refused(case: str) -> None:
    make, reason = ACCESS_REFUSALS[case]
    with pytest.raises(IdentityRefused, match=reason):
        verify(data_token(), make())


def test_trust_reads_the_region_from_the_arn_and_refuses_nonsense() -> None:
    assert TRUST.region == "us-east-1"
    with pytest.raises(ValueError, match="Load Balancer ARN"):
        AlbTrust(alb_arn="arn:aws:s3:::bucket", issuer=ISSUER, client_id=CLIENT_ID)


class _PemServer(http.server.BaseHTTPRequestHandler):
    """Stands in for https://public-keys.auth.elb.<region>.amazonaws.com/<kid>: the PEM of one key."""

    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        if self.path != f"/{ALB_KID}":
            self.send_error(404)
            return
        pem = ALB_KEY.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.send_response(200)
        self.send_header("Content-Length", str(len(pem)))
        self.end_headers()
        self.wfile.write(pem)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def key_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PemServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _PemServer.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


def test_alb_keys_are_fetched_by_kid_once_and_unknown_ones_refused(key_server: str) -> None:
    keys = AlbPublicKeys("us-east-1", base_url=key_server)
    headers = {DATA_HEADER: data_token(), ACCESS_TOKEN_HEADER: access_token()}
    for _ in range(2):
        who = verify_alb_identity(headers, TRUST, alb_keys=keys, cognito_keys=COGNITO_KEYS.__getitem__)
        assert who.username == "alice"
    assert _PemServer.requests == [f"/{ALB_KID}"]
    unknown = {**headers, DATA_HEADER: data_token(kid="aaaaaaaa-0000-0000-0000-000000000000")}
    with pytest.raises(IdentityRefused, match="unknown key"):
        verify_alb_identity(unknown, TRUST, alb_keys=keys, cognito_keys=COGNITO_KEYS.__getitem__)


def test_the_default_key_address_is_the_regional_elb_endpoint() -> None:
    assert AlbPublicKeys("eu-central-1")._base_url == "https://public-keys.auth.elb.eu-central-1.amazonaws.com"
