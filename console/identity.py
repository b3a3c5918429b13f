"""Who is asking: the identity the load balancer signed, verified before any page shows anything.

Outside dev, the Application Load Balancer's `authenticate-cognito` action signs every request it forwards:
- `x-amzn-oidc-data`: an ES256 JWT whose header names the key (`kid`), the load balancer that signed it
  (`signer`, its ARN) and the app client (`client`); its public key is served as PEM by kid from
  `https://public-keys.auth.elb.<region>.amazonaws.com/<kid>`.
- `x-amzn-oidc-accesstoken`: the Cognito access token (RS256, keys in the user pool's JWKS), which carries the
  user's groups (`cognito:groups`); the user-info claims in the data header do not.
Sources: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-authenticate-users.html
and the reference verifier https://github.com/awslabs/aws-jwt-verify (src/alb-verifier.ts).

Nothing here prints a token or a claim value in an error: reasons are fixed phrases.
"""

from __future__ import annotations

import re
import threading
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

ROLES = ("frontdesk", "admin")
ALB_ALGORITHM = "ES256"
COGNITO_ALGORITHM = "RS256"
DATA_HEADER = "x-amzn-oidc-data"
ACCESS_TOKEN_HEADER = "x-amzn-oidc-accesstoken"  # noqa: S105 - a header name
# Clock skew tolerated between the load balancer, Cognito and this task.
LEEWAY_SECONDS = 30
ACTOR_MAX = 80  # audit_log.actor

_ALB_ARN = re.compile(r"^arn:aws[a-z-]*:elasticloadbalancing:([a-z]{2}(?:-[a-z]+)+-\d):\d{12}:loadbalancer/app/\S+$")
# A key id goes into a URL path: nothing but what real key ids are made of.
_KEY_ID = re.compile(r"^[A-Za-z0-9_=+-]{1,128}$")
_USERNAME = re.compile(r"^[^\s\x00-\x1f]{1,72}$")

KeyLookup = Callable[[str], Any]


class IdentityRefused(Exception):
    """The request carries no identity, or one that does not verify. The message is safe to show."""


@dataclass(frozen=True)
class Identity:
    username: str
    roles: frozenset[str]
    email: str | None = None

    @property
    def actor(self) -> str:
        """The audit log's actor for this staff member (the agent's is 'agent')."""
        return f"staff:{self.username}"

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def identity(username: str, roles: frozenset[str] | set[str], email: str | None = None) -> Identity:
    """An Identity with a username fit for the audit log and at least one console role."""
    if not _USERNAME.match(username or ""):
        raise IdentityRefused("the user name is empty, too long or holds spaces")
    granted = frozenset(roles) & frozenset(ROLES)
    if not granted:
        raise IdentityRefused("this account is in neither console group (frontdesk, admin)")
    return Identity(username=username, roles=granted, email=email)


@dataclass(frozen=True)
class AlbTrust:
    """What a signed identity must match: our load balancer, our user pool, our app client."""

    alb_arn: str
    issuer: str  # https://cognito-idp.<region>.amazonaws.com/<user pool id>
    client_id: str

    def __post_init__(self) -> None:
        if not _ALB_ARN.match(self.alb_arn):
            raise ValueError("not an Application Load Balancer ARN")
        if not self.issuer.startswith("https://cognito-idp."):
            raise ValueError("not a Cognito user pool issuer URL")
        if not self.client_id:
            raise ValueError("the app client id is empty")

    @property
    def region(self) -> str:
        match = _ALB_ARN.match(self.alb_arn)
        assert match is not None  # checked in __post_init__
        return match[1]


def _key_id(header: Mapping[str, Any]) -> str:
    kid = header.get("kid")
    if not isinstance(kid, str) or not _KEY_ID.match(kid):
        raise IdentityRefused("the identity names no valid signing key")
    return kid


def _key(lookup: KeyLookup, kid: str) -> Any:
    try:
        return lookup(kid)
    except (KeyError, LookupError, OSError, jwt.PyJWKClientError, ValueError):
        raise IdentityRefused("the identity is signed with an unknown key") from None


def _decode(token: str, key: Any, algorithm: str, issuer: str) -> dict[str, Any]:
    try:
        return jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "sub"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise IdentityRefused("the sign-in has expired: reload the page to sign in again") from None
    except jwt.InvalidTokenError:
        raise IdentityRefused("the identity's signature or claims do not verify") from None


def _header(token: str, algorithm: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise IdentityRefused("the identity is not a signed token") from None
    if header.get("alg") != algorithm:
        raise IdentityRefused("the identity is signed with an unexpected algorithm")
    return header


def verify_alb_identity(
    headers: Mapping[str, str], trust: AlbTrust, *, alb_keys: KeyLookup, cognito_keys: KeyLookup
) -> Identity:
    """The staff member behind a request the load balancer authenticated, or IdentityRefused."""
    data = headers.get(DATA_HEADER)
    access = headers.get(ACCESS_TOKEN_HEADER)
    if not data or not access:
        raise IdentityRefused("no signed identity from the load balancer: sign in through the console's address")

    header = _header(data, ALB_ALGORITHM)
    if header.get("signer") != trust.alb_arn:
        raise IdentityRefused("the identity was signed by another load balancer")
    if header.get("client") != trust.client_id:
        raise IdentityRefused("the identity was issued to another app client")
    claims = _decode(data, _key(alb_keys, _key_id(header)), ALB_ALGORITHM, trust.issuer)

    access_header = _header(access, COGNITO_ALGORITHM)
    grants = _decode(access, _key(cognito_keys, _key_id(access_header)), COGNITO_ALGORITHM, trust.issuer)
    if grants.get("token_use") != "access" or grants.get("client_id") != trust.client_id:
        raise IdentityRefused("the access token is not this console's")
    if grants["sub"] != claims["sub"]:
        raise IdentityRefused("the access token belongs to another user")
    groups = grants.get("cognito:groups") or []
    if not isinstance(groups, list):
        raise IdentityRefused("the access token's groups are malformed")
    username = claims.get("username") or grants.get("username") or claims["sub"]
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    return identity(str(username), {group for group in groups if isinstance(group, str)}, email)


class AlbPublicKeys:
    """The load balancer's public keys by kid (PEM from its regional endpoint), fetched once each."""

    def __init__(self, region: str, *, base_url: str | None = None, timeout: float = 3.0) -> None:
        self._base_url = base_url or f"https://public-keys.auth.elb.{region}.amazonaws.com"
        self._timeout = timeout
        self._keys: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, kid: str) -> Any:
        if not _KEY_ID.match(kid):
            raise KeyError(kid)
        with self._lock:
            if kid not in self._keys:
                url = f"{self._base_url}/{kid}"
                with urllib.request.urlopen(url, timeout=self._timeout) as response:  # noqa: S310 - https, fixed host
                    pem = response.read(16_384)
                self._keys[kid] = load_pem_public_key(pem)
            return self._keys[kid]


class CognitoKeys:
    """The user pool's signing keys by kid, from its JWKS (cached by PyJWT)."""

    def __init__(self, issuer: str, *, timeout: float = 3.0) -> None:
        self._client = jwt.PyJWKClient(f"{issuer}/.well-known/jwks.json", cache_keys=True, timeout=timeout)

    def __call__(self, kid: str) -> Any:
        return self._client.get_signing_key(kid).key
