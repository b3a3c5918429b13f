"""Signed identities as the load balancer and Cognito make them, with keys made here (no AWS).

Shapes follow the ALB documentation and awslabs/aws-jwt-verify (src/alb-verifier.ts): an ES256 data token with
`kid`, `signer` and `client` in its header, and Cognito's RS256 access token carrying `cognito:groups`.
"""

from __future__ import annotations

import time

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from console.identity import ACCESS_TOKEN_HEADER, DATA_HEADER, AlbTrust

ALB_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/hospital-console/50dc6c495c0c9188"
OTHER_ALB_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/other/0123456789abcdef"
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool1"
CLIENT_ID = "4example0client0id0abcdefgh"
SUB = "24f59737-6c30-445e-8bc4-d29e04672b39"
ALB_KID = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
COGNITO_KID = "cognito-key-1"
TRUST = AlbTrust(alb_arn=ALB_ARN, issuer=ISSUER, client_id=CLIENT_ID)

ALB_KEY = ec.generate_private_key(ec.SECP256R1())
COGNITO_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ALB_KEYS = {ALB_KID: ALB_KEY.public_key()}
COGNITO_KEYS = {COGNITO_KID: COGNITO_KEY.public_key()}


def data_token(*, signer: str = ALB_ARN, kid: str = ALB_KID, key=ALB_KEY, expires_in: int = 120, **claims) -> str:
    payload = {"sub": SUB, "username": "alice", "email": "alice@example.org", "iss": ISSUER}
    payload |= {"exp": int(time.time()) + expires_in, **claims}
    headers = {"kid": kid, "signer": signer, "client": CLIENT_ID, "typ": "JWT"}
    return jwt.encode(payload, key, algorithm="ES256", headers=headers)


def access_token(*, groups: list[str] | None = None, expires_in: int = 3600, **claims) -> str:
    payload = {
        "sub": SUB,
        "iss": ISSUER,
        "token_use": "access",
        "client_id": CLIENT_ID,
        "cognito:groups": ["frontdesk"] if groups is None else groups,
        "exp": int(time.time()) + expires_in,
        **claims,
    }
    return jwt.encode(payload, COGNITO_KEY, algorithm="RS256", headers={"kid": COGNITO_KID})


def signed_headers(**data_claims) -> dict[str, str]:
    """What the load balancer forwards for a signed-in user (groups: frontdesk unless given)."""
    groups = data_claims.pop("groups", None)
    return {DATA_HEADER: data_token(**data_claims), ACCESS_TOKEN_HEADER: access_token(groups=groups)}
