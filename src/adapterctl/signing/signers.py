"""Which trusted signer a bundle claims, and whether the environment allows it.

Key-mode bundles name their key by digest (model-signing's public key hint); certificate
and keyless bundles name their signer in the certificate's Subject Alternative Name. The
claim is only a selector: the library then verifies the signature with the selected
signer's material, so a forged hint or SAN fails there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from adapterctl.model.trust import SignerMode
from adapterctl.signing.bundle import Bundle
from adapterctl.signing.certificates import (
    CertificateError,
    check_chain,
    check_leaf,
    describe,
    identities,
    parse_chain,
)
from adapterctl.signing.trust import Signer, Trust

ALLOW_HINT = (
    "sign with an allowed identity, or add this one to promotion.adapter_signers "
    "(a reviewed change)"
)


@dataclass(frozen=True)
class Policy:
    """Whose signatures count: the trust file, narrowed to an environment's signers."""

    trust: Trust
    allowed: tuple[str, ...] | None = None
    environment: str | None = None
    """The environment file that narrowed it (for messages)."""

    @property
    def effective(self) -> Trust:
        return self.trust if self.allowed is None else self.trust.allowing(self.allowed)


class NoSigner(Exception):
    """No trusted (or no allowed) signer matches the bundle."""

    def __init__(self, message: str, *, not_allowed: bool, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.not_allowed = not_allowed
        self.hint = hint


def match_signers(bundle: Bundle, policy: Policy, now: datetime) -> list[Signer]:
    """The allowed signers to verify ``bundle`` with (at least one), or NoSigner."""
    if bundle.mode is SignerMode.KEY:
        return _key_signers(bundle, policy)
    return _certificate_signers(bundle, policy, now)


def _not_allowed(policy: Policy, identity: str) -> NoSigner:
    allowed = ", ".join(policy.allowed or ()) or "none"
    message = (
        f"signed by {identity}, which {policy.environment} does not allow "
        f"(promotion.adapter_signers: {allowed})"
    )
    return NoSigner(message, not_allowed=True, hint=ALLOW_HINT)


def _key_signers(bundle: Bundle, policy: Policy) -> list[Signer]:
    def by_key(trust: Trust) -> list[Signer]:
        return [s for s in trust.of_mode(SignerMode.KEY) if s.key_hint == bundle.key_hint]

    matched = by_key(policy.effective)
    if matched:
        return matched
    known = by_key(policy.trust)
    if known:
        raise _not_allowed(policy, known[0].identity)
    message = (
        f"signed with a key that {policy.trust.file} does not trust "
        f"(public key digest {bundle.key_hint})"
    )
    hint = "only keys listed in the verifier's trust file count; do not serve the artifact"
    raise NoSigner(message, not_allowed=True, hint=hint)


def _certificate_signers(bundle: Bundle, policy: Policy, now: datetime) -> list[Signer]:
    chain = parse_chain(bundle.certificates)
    names = identities(chain[0])
    of_mode = policy.trust.of_mode(bundle.mode)
    if not of_mode:
        message = f"signed in {bundle.mode} mode, but {policy.trust.file} trusts no such signer"
        raise NoSigner(message, not_allowed=True)
    candidates = [signer for signer in of_mode if signer.identity in names]
    if not candidates:
        trusted = ", ".join(sorted({signer.identity for signer in of_mode}))
        message = (
            f"the signing certificate is issued to {describe(chain[0])}, "
            f"not to a trusted signer ({trusted})"
        )
        raise NoSigner(message, not_allowed=False)
    allowed = [signer for signer in candidates if signer in policy.effective.signers]
    if not allowed:
        raise _not_allowed(policy, candidates[0].identity)
    if bundle.mode is SignerMode.CERTIFICATE:
        check_leaf(chain[0], now)
        return [_chained(chain, allowed, now)]
    return allowed  # keyless: sigstore checks the chain at the logged signing time


def _chained(chain: list[x509.Certificate], signers: list[Signer], now: datetime) -> Signer:
    problems: list[str] = []
    for signer in signers:
        try:
            check_chain(chain, signer.ca_roots, now)
            return signer
        except CertificateError as exc:
            problems.append(str(exc))
    roots = ", ".join(signers[0].material)
    raise CertificateError(f"{problems[0]} (CA roots trusted for {signers[0].identity}: {roots})")
