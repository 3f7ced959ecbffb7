"""The verifier's revocation file: keys that are never accepted, whatever a commit's date.

A text file, one entry a line (``#`` comments and blank lines ignored):

- an SSH public key, ``keytype base64 [comment]`` (an allowed-signers line works too);
- an SSH fingerprint, ``SHA256:…`` (as ``ssh-keygen -l`` prints it);
- a GPG fingerprint, 40 or 64 hex digits, spaces allowed (as ``gpg --fingerprint`` prints it).

A binary OpenSSH key revocation list (``ssh-keygen -k``) is accepted as it is and handed to
git as ``gpg.ssh.revocationFile``; git then reports a revoked key as a bad signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adapterctl.errors import InputError
from adapterctl.signing.commit_keys import (
    FINGERPRINT_FORMS,
    SSH_KEY_TYPES,
    normalize_fingerprint,
    ssh_fingerprint,
)

KRL_MAGIC = b"SSHKRL\n\0"
FORMAT_HINT = f"each line is an SSH public key, or a fingerprint: {FINGERPRINT_FORMS}"


@dataclass(frozen=True, slots=True)
class Revocations:
    path: Path | None = None
    fingerprints: frozenset[str] = frozenset()
    krl: Path | None = None
    """A binary KRL, for git to apply (it cannot be read here)."""

    def revoked(self, *fingerprints: str) -> bool:
        return any(fp and fp in self.fingerprints for fp in fingerprints)


def read_revocations(path: Path | None) -> Revocations:
    if path is None:
        return Revocations()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the revocation file: {exc.strerror}") from None
    if data.startswith(KRL_MAGIC):
        return Revocations(path, krl=path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(
            f"{path}: the revocation file is neither UTF-8 text nor an OpenSSH KRL"
        ) from None
    return Revocations(path, frozenset(_fingerprints(path, text)))


def _fingerprints(path: Path, text: str) -> list[str]:
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            found.append(entry_fingerprint(line))
        except ValueError as exc:
            raise InputError(f"{path}:{number}: {exc}", hint=FORMAT_HINT) from None
    return found


def entry_fingerprint(line: str) -> str:
    """The fingerprint one line names; ValueError when it names none."""
    fields = line.split()
    for index, field in enumerate(fields[:-1]):
        if field in SSH_KEY_TYPES:
            return ssh_fingerprint(field, fields[index + 1])
    fingerprint = normalize_fingerprint(line)
    if fingerprint is None:
        raise ValueError("not an SSH public key nor a key fingerprint")
    return fingerprint
