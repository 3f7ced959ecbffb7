"""The verifier's trust file: who may sign adapter artifacts, and with what key material.

Not a registry document. It is held by whoever verifies (a CI runner's configuration, a
serving node's configuration) and never read from the repository being verified: a
repository cannot vouch for itself. Relative paths resolve against the file's folder.

```yaml
signers:
  - identity: svc-train-pipeline@example.internal
    key: keys/train-pipeline.pub             # key mode: EC P-256/P-384/P-521 public key (PEM)
  - identity: svc-train-pipeline@example.internal
    ca_roots: [pki/root.pem]                 # certificate mode: leaf SAN == identity
  - identity: trainer@example.internal
    oidc_issuer: https://oidc.example.internal
    trust_config: sigstore/trust_config.json # Sigstore keyless, private trust root
```
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from adapterctl.model.common import Frozen, HostPath, Text

TRUST_ENV = "ADAPTERCTL_TRUST"
"""The environment variable naming the trust file when ``--trust`` is not given."""


class SignerMode(StrEnum):
    KEY = "key"
    CERTIFICATE = "certificate"
    KEYLESS = "keyless"


class TrustedSigner(Frozen):
    """One identity allowed to sign, and the material its signatures are checked with."""

    identity: Text
    """The signer: an e-mail or URI (the certificate's SAN in certificate and keyless mode),
    or a name for a key; environments list these in promotion.adapter_signers."""
    key: HostPath | None = None
    """Key mode: an EC P-256, P-384 or P-521 public key, PEM (a PKCS#11 key's public half too)."""
    ca_roots: tuple[HostPath, ...] | None = Field(default=None, min_length=1)
    """Certificate mode: PEM files of the private CA roots the signing certificate must
    chain to (intermediates come with the signature)."""
    oidc_issuer: Text | None = None
    """Keyless mode: the OpenID Connect issuer that vouched for the identity."""
    trust_config: HostPath | None = None
    """Keyless mode: the private Sigstore client trust configuration (JSON) holding the
    trusted root (Fulcio CA, Rekor and timestamp keys); verification never goes online."""

    @property
    def mode(self) -> SignerMode:
        if self.key is not None:
            return SignerMode.KEY
        if self.ca_roots is not None:
            return SignerMode.CERTIFICATE
        return SignerMode.KEYLESS

    @model_validator(mode="after")
    def _one_mode(self) -> TrustedSigner:
        given = [
            name
            for name, value in (
                ("key", self.key),
                ("ca_roots", self.ca_roots),
                ("trust_config", self.trust_config),
            )
            if value is not None
        ]
        if len(given) != 1:
            shown = ", ".join(given) if given else "none"
            raise ValueError(f"give exactly one of key, ca_roots or trust_config (got {shown})")
        if (self.trust_config is None) != (self.oidc_issuer is None):
            raise ValueError("oidc_issuer and trust_config go together (Sigstore keyless)")
        return self


class TrustPolicy(Frozen):
    """The verifier-held list of trusted signers."""

    signers: tuple[TrustedSigner, ...] = Field(min_length=1)
    """Every identity whose signatures this verifier accepts."""
