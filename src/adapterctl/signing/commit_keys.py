"""Key fingerprints as git reports them: ``SHA256:…`` for SSH keys, upper-case hex for GPG."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

SSH_KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)
_SSH_FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")
_GPG_FINGERPRINT = re.compile(r"[0-9A-F]{40}|[0-9A-F]{64}")
FINGERPRINT_FORMS = "SHA256:… (an SSH key) or 40 or 64 hex digits (a GPG key)"


def ssh_fingerprint(key_type: str, encoded: str) -> str:
    """``SHA256:<base64>`` of an SSH public key, as ``ssh-keygen -l`` and git's ``%GF`` show it.

    Raises ValueError with a short reason when the key data is not a ``key_type`` key.
    """
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the key is not valid base64") from None
    embedded = _embedded_type(blob)
    if embedded is None:
        raise ValueError("the key data is malformed")
    if embedded != key_type:
        raise ValueError(f"the key data says {embedded}, not {key_type}")
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")
    return f"SHA256:{digest}"


def _embedded_type(blob: bytes) -> str | None:
    if len(blob) < 4:
        return None
    size = int.from_bytes(blob[:4], "big")
    if size > len(blob) - 4:
        return None
    return blob[4 : 4 + size].decode("ascii", errors="replace") or None


def normalize_fingerprint(text: str) -> str | None:
    """A fingerprint in git's spelling, or None when ``text`` is not a full fingerprint.

    GPG fingerprints may be written with spaces, lower case or a ``0x`` prefix (as gpg
    prints them); SSH fingerprints are case-sensitive base64 and stay as they are.
    """
    text = text.strip()
    if _SSH_FINGERPRINT.fullmatch(text):
        return text
    compact = text.replace(" ", "").upper().removeprefix("0X")
    return compact if _GPG_FINGERPRINT.fullmatch(compact) else None


def is_ssh(fingerprint: str) -> bool:
    return fingerprint.startswith("SHA256:")
