"""Trial tokens: what a training job holds instead of any credential.

    trial.<trial id>.<signed payload>

The payload ({"t": trial id, "n": nonce, "e": expiry}) is signed with SECRET_KEY (Django's signing,
salted for this use only). A token is good for one trial's report-back endpoints and nothing else:
personal-token authentication never accepts it, and the trial endpoints accept nothing but it. The
nonce is random per submission and stored on the trial row, so submitting the trial again revokes
the previous job's token, and a token stops opening anything once its trial is finished (see
`api.authentication.IsTrialJob`). The id in clear text only lets the job build its URLs; the signed one counts.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from django.core import signing

PREFIX = "trial."
SALT = "experiments.trial-token"


class TokenError(Exception):
    """A token that is malformed, tampered with, expired or revoked."""


@dataclass(frozen=True)
class TrialClaim:
    trial_id: int
    nonce: str
    expires: float


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def issue(trial_id: int, nonce: str, expires_at: datetime) -> str:
    payload = {"t": trial_id, "n": nonce, "e": int(expires_at.timestamp())}
    return f"{PREFIX}{trial_id}.{signing.dumps(payload, salt=SALT, compress=False)}"


def looks_like_trial_token(raw: str) -> bool:
    return raw.startswith(PREFIX)


def verify(raw: str, *, now: float | None = None) -> TrialClaim:
    """The claim of a genuine, unexpired token; `TokenError` otherwise (the nonce is checked by the caller)."""
    if not looks_like_trial_token(raw):
        raise TokenError("not a trial token")
    hint, _, signed = raw[len(PREFIX) :].partition(".")
    try:
        payload = signing.loads(signed, salt=SALT)
    except signing.BadSignature:
        raise TokenError("invalid trial token") from None
    if not isinstance(payload, dict) or not {"t", "n", "e"} <= payload.keys():
        raise TokenError("invalid trial token")
    if str(payload["t"]) != hint:
        raise TokenError("invalid trial token")
    if (now if now is not None else time.time()) >= payload["e"]:
        raise TokenError("the trial token has expired")
    return TrialClaim(trial_id=int(payload["t"]), nonce=str(payload["n"]), expires=float(payload["e"]))


def nonce_matches(claim: TrialClaim, stored: str) -> bool:
    return bool(stored) and hmac.compare_digest(claim.nonce, stored)
