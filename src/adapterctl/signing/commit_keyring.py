"""A throw-away GPG keyring holding exactly the verifier's allowed public keys.

git verifies OpenPGP signatures with whatever keyring ``GNUPGHOME`` names; pointing it at a
fresh directory means no key from the user's own keyring (nor from a key server) is ever
trusted by accident. Every imported key gets ultimate owner trust: being in the verifier's
allowed keys file is the trust decision, and git reports a good signature by a key of
unknown validity as ``U``, not ``G``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from adapterctl.errors import InputError, UsageError

GPG_CONF = "no-autostart\nno-auto-key-retrieve\n"
_TIMEOUT_S = 60


@dataclass(frozen=True, slots=True)
class GpgKey:
    """One public key: its fingerprints (primary first, then subkeys) and user IDs."""

    fingerprints: tuple[str, ...]
    user_ids: tuple[str, ...]

    @property
    def primary(self) -> str:
        return self.fingerprints[0]


class GpgKeyring:
    """A keyring directory (``home``, created empty here) that keys are imported into."""

    def __init__(self, home: Path) -> None:
        self.home = home
        home.mkdir(mode=0o700)
        (home / "gpg.conf").write_text(GPG_CONF)
        self._program: str | None = None

    @property
    def program(self) -> str:
        if self._program is None:
            found = shutil.which("gpg")
            if found is None:
                raise UsageError(
                    "gpg is not installed, and GPG keys were given",
                    hint="install gnupg (apt-get install gnupg)",
                )
            self._program = found
        return self._program

    def import_file(self, path: Path) -> tuple[GpgKey, ...]:
        """Import the public keys in ``path`` (armored or binary) and trust them."""
        status = self._gpg("--status-fd", "1", "--import", str(path), check=False)
        primaries = tuple(
            dict.fromkeys(
                line.split()[3] for line in status.splitlines() if line.startswith(_IMPORT_OK)
            )
        )
        if not primaries:
            raise InputError(
                f"{path}: no OpenPGP public key in it",
                hint="export one with gpg --armor --export KEYID > FILE",
            )
        trust = "".join(f"{fingerprint}:6:\n" for fingerprint in primaries)
        self._gpg("--import-ownertrust", stdin=trust)
        return self.keys(primaries)

    def keys(self, primaries: tuple[str, ...]) -> tuple[GpgKey, ...]:
        listing = self._gpg(
            "--with-colons", "--fingerprint", "--fingerprint", "--list-keys", *primaries
        )
        return parse_colons(listing)

    def _gpg(self, *args: str, stdin: str = "", check: bool = True) -> str:
        command = [self.program, "--homedir", str(self.home), "--batch", "--no-tty", *args]
        try:
            done = subprocess.run(
                command,
                check=False,
                input=stdin,
                capture_output=True,
                encoding="utf-8",
                errors="replace",
                timeout=_TIMEOUT_S,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InputError(f"gpg failed: {exc}") from None
        if check and done.returncode != 0:
            last = done.stderr.strip().splitlines()[-1:] or ["no message"]
            raise InputError(f"gpg {args[-1]} failed: {last[0]}")
        return done.stdout


_IMPORT_OK = "[GNUPG:] IMPORT_OK "
_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")


def parse_colons(listing: str) -> tuple[GpgKey, ...]:
    """Keys from ``gpg --with-colons --list-keys`` output (``pub``/``fpr``/``uid`` records)."""
    keys: list[GpgKey] = []
    fingerprints: list[str] = []
    user_ids: list[str] = []
    for line in listing.splitlines():
        fields = line.split(":")
        if fields[0] == "pub" and fingerprints:
            keys.append(GpgKey(tuple(fingerprints), tuple(user_ids)))
            fingerprints, user_ids = [], []
        elif fields[0] == "fpr" and len(fields) > 9:
            fingerprints.append(fields[9])
        elif fields[0] == "uid" and len(fields) > 9:
            user_ids.append(_unescape(fields[9]))
    if fingerprints:
        keys.append(GpgKey(tuple(fingerprints), tuple(user_ids)))
    return tuple(keys)


def _unescape(text: str) -> str:
    """gpg's colon listings escape ``:`` and control bytes as ``\\xHH``."""
    return _ESCAPE.sub(lambda match: chr(int(match[1], 16)), text)
