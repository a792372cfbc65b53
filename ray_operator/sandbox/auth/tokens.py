"""ServiceAccount tokens: the signed JWTs TokenRequest issues, and their verification.

A token is a JWS (ES256, signed with a key made per sandbox) with kube-apiserver's claims: ``iss``,
``sub`` = ``system:serviceaccount:<ns>:<name>``, ``aud``, ``exp``/``iat``/``nbf``, ``jti`` and the
``kubernetes.io`` claim naming the namespace, the ServiceAccount (name, uid) and the object it is
bound to (a Pod or a Secret, name and uid). Verification checks the signature, the time window and
the audience here; that the ServiceAccount and the bound object still exist with those uids is the
authenticator's part (it needs the store).
Decided against: opaque random tokens (clients and tools such as ``kubectl auth whoami`` do not care,
but code that decodes the JWT to find its namespace would break) and RS256 (key generation costs a
noticeable pause per sandbox; kube-apiserver signs with ES256 too when given an EC key).
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

ISSUER = "https://kubernetes.default.svc.cluster.local"
"""kubeadm's default ``--service-account-issuer``; also the API server's audience."""
API_AUDIENCES = (ISSUER,)
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
SA_PREFIX = "system:serviceaccount:"


def service_account_username(namespace: str, name: str) -> str:
    return f"{SA_PREFIX}{namespace}:{name}"


def split_service_account_username(username: str) -> tuple[str, str] | None:
    """``(namespace, name)`` of ``system:serviceaccount:<ns>:<name>``, None for any other user name."""
    if not username.startswith(SA_PREFIX):
        return None
    parts = username[len(SA_PREFIX) :].split(":")
    if len(parts) != 2 or not all(parts):
        return None
    return parts[0], parts[1]


def service_account_groups(namespace: str) -> list[str]:
    return ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says; the authenticator still checks the objects exist."""

    namespace: str
    name: str
    uid: str
    audiences: tuple[str, ...]
    jti: str
    expires: datetime
    bound_kind: str = ""
    bound_name: str = ""
    bound_uid: str = ""
    node_name: str = ""
    node_uid: str = ""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    """Signs and verifies one sandbox's ServiceAccount tokens."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._kid = uuid.uuid4().hex

    def issue(
        self,
        *,
        namespace: str,
        name: str,
        uid: str,
        now: datetime,
        expiration_seconds: int = DEFAULT_EXPIRATION_SECONDS,
        audiences: tuple[str, ...] = API_AUDIENCES,
        bound: dict[str, Any] | None = None,
    ) -> tuple[str, datetime]:
        """A signed token and its expiry; ``bound`` is ``{"kind","name","uid"}`` of a Pod or Secret (and node)."""
        expires = now + timedelta(seconds=expiration_seconds)
        claim: dict[str, Any] = {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}}
        if bound:
            kind = str(bound.get("kind", "")).lower()
            claim[kind] = {"name": bound.get("name", ""), "uid": bound.get("uid", "")}
            if bound.get("node_name"):
                claim["node"] = {"name": bound["node_name"], "uid": bound.get("node_uid", "")}
        payload = {
            "aud": list(audiences),
            "exp": int(expires.timestamp()),
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "iss": ISSUER,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": claim,
            "sub": service_account_username(namespace, name),
        }
        header = {"alg": "ES256", "kid": self._kid}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
        r, s = decode_dss_signature(self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{_b64(signature)}", expires

    def verify(self, token: str, *, now: datetime) -> TokenClaims | None:
        """The claims of a token this issuer signed that is valid at ``now``; None otherwise."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = json.loads(_unb64(parts[0]))
            payload = json.loads(_unb64(parts[1]))
            signature = _unb64(parts[2])
        except ValueError:
            return None
        if not isinstance(header, dict) or header.get("alg") != "ES256" or len(signature) != 64:
            return None
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        try:
            self._key.public_key().verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return None
        return _claims(payload, now)


def _claims(payload: Any, now: datetime) -> TokenClaims | None:
    if not isinstance(payload, dict) or payload.get("iss") != ISSUER:
        return None
    stamp = now.timestamp()
    try:
        if not (int(payload["nbf"]) <= stamp < int(payload["exp"])):
            return None
        claim = payload["kubernetes.io"]
        sa = claim["serviceaccount"]
        bound_kind = next((k for k in ("pod", "secret") if isinstance(claim.get(k), dict)), "")
        bound: dict[str, Any] = claim[bound_kind] if bound_kind else {}
        node: dict[str, Any] = claim["node"] if isinstance(claim.get("node"), dict) else {}
        return TokenClaims(
            namespace=str(claim["namespace"]),
            name=str(sa["name"]),
            uid=str(sa["uid"]),
            audiences=tuple(str(a) for a in payload.get("aud") or ()),
            jti=str(payload.get("jti", "")),
            expires=datetime.fromtimestamp(int(payload["exp"]), tz=now.tzinfo),
            bound_kind=bound_kind,
            bound_name=str(bound.get("name", "")),
            bound_uid=str(bound.get("uid", "")),
            node_name=str(node.get("name", "")),
            node_uid=str(node.get("uid", "")),
        )
    except (KeyError, TypeError, ValueError):
        return None
