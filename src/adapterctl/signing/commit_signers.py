"""The verifier's allowed-signers file (git's ``gpg.ssh.allowedSignersFile``), checked line by
line before git sees it: ssh-keygen skips a line it cannot read, so a typo would silently
turn a good signature into an unknown key. Format (ssh-keygen(1), ALLOWED SIGNERS)::

    principal[,principal…] [option[,option…]] keytype base64-key [comment]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from adapterctl.errors import InputError
from adapterctl.signing.commit_keys import SSH_KEY_TYPES, ssh_fingerprint

FORMAT_HINT = (
    "each line is `principal[,principal] [options] keytype base64-key`, "
    'options namespaces="git", valid-after=YYYYMMDD[HHMM[SS]][Z], valid-before=…, '
    "cert-authority (ssh-keygen(1), ALLOWED SIGNERS)"
)
_TIMESTAMP = re.compile(r"(\d{8})(\d{4}(\d{2})?)?([zZ])?")


@dataclass(frozen=True, slots=True)
class AllowedSigner:
    """One line of the file: principals allowed to sign with one key, within a window."""

    principals: tuple[str, ...]
    fingerprint: str
    line: int
    namespaces: tuple[str, ...] | None = None
    valid_after: datetime | None = None
    valid_before: datetime | None = None
    cert_authority: bool = False

    def accepts_at(self, when: datetime) -> bool:
        """Whether ``when`` lies in the key's validity window (ssh-keygen's comparison)."""
        too_early = self.valid_after is not None and when < self.valid_after
        too_late = self.valid_before is not None and when > self.valid_before
        return not (too_early or too_late)

    def accepts_git(self) -> bool:
        return self.namespaces is None or "git" in self.namespaces


@dataclass(frozen=True, slots=True)
class AllowedSigners:
    path: Path
    signers: tuple[AllowedSigner, ...]

    def for_key(self, fingerprint: str) -> tuple[AllowedSigner, ...]:
        return tuple(s for s in self.signers if s.fingerprint == fingerprint)


def read_allowed_signers(path: Path) -> AllowedSigners:
    """Parse ``path``; a line that ssh-keygen would not accept is an error naming it."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the allowed signers file: {_reason(exc)}") from None
    signers = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            signers.append(parse_line(line, number))
        except ValueError as exc:
            raise InputError(f"{path}:{number}: {exc}", hint=FORMAT_HINT) from None
    return AllowedSigners(path, tuple(signers))


def _reason(exc: OSError | UnicodeDecodeError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return exc.strerror or str(exc)


def parse_line(line: str, number: int) -> AllowedSigner:
    """One non-comment line; ValueError says what is wrong with it."""
    fields = split_fields(line)
    if fields[0].lower() in SSH_KEY_TYPES:
        raise ValueError("the line starts with the key type: the principals come first")
    if len(fields) < 3:
        raise ValueError("expected principals, a key type and a key")
    principals = _principals(fields[0])
    has_options = _has_options(fields)
    key_type, key = (fields[2], fields[3]) if has_options else (fields[1], fields[2])
    if key_type not in SSH_KEY_TYPES:
        shown = key_type if len(key_type) <= 24 else key_type[:20] + "…"
        raise ValueError(f"'{shown}' is not an SSH key type (ssh-ed25519, ecdsa-sha2-nistp256, …)")
    options = parse_options(fields[1]) if has_options else {}
    return AllowedSigner(
        principals=principals,
        fingerprint=ssh_fingerprint(key_type, key),
        line=number,
        namespaces=_namespaces(options),
        valid_after=_when(options, "valid-after"),
        valid_before=_when(options, "valid-before"),
        cert_authority="cert-authority" in options,
    )


def _has_options(fields: list[str]) -> bool:
    """Whether the second field holds options rather than the key type."""
    if fields[1].lower() in SSH_KEY_TYPES or len(fields) < 4:
        return False
    return fields[2] in SSH_KEY_TYPES or "=" in fields[1]


def split_fields(line: str) -> list[str]:
    """Whitespace-separated fields; double quotes protect spaces (``namespaces="a b"``)."""
    fields: list[str] = []
    current: list[str] = []
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        if char.isspace() and not quoted:
            if current:
                fields.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        raise ValueError("unterminated double quote")
    if current:
        fields.append("".join(current))
    return fields


def _principals(field: str) -> tuple[str, ...]:
    names = tuple(name for name in _unquote(field).split(",") if name)
    if not names:
        raise ValueError("no principal before the key")
    return names


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


_KNOWN_OPTIONS = {  # name → whether it takes a value
    "cert-authority": False,
    "namespaces": True,
    "valid-after": True,
    "valid-before": True,
}


def parse_options(field: str) -> dict[str, str]:
    """``cert-authority,namespaces="git",valid-after=20260101`` → name → value."""
    options: dict[str, str] = {}
    for item in _split_commas(field):
        name, sep, value = item.partition("=")
        name = name.lower()
        if name not in _KNOWN_OPTIONS:
            raise ValueError(f"unknown option '{name}'")
        if _KNOWN_OPTIONS[name] != bool(sep):
            need = "needs a value" if _KNOWN_OPTIONS[name] else "takes no value"
            raise ValueError(f"option '{name}' {need}")
        options[name] = _unquote(value)
    return options


def _split_commas(field: str) -> list[str]:
    items: list[str] = []
    current: list[str] = []
    quoted = False
    for char in field:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    if any(not item for item in items):
        raise ValueError("empty option (two commas in a row?)")
    return items


def _namespaces(options: dict[str, str]) -> tuple[str, ...] | None:
    value = options.get("namespaces")
    return None if value is None else tuple(n.strip() for n in value.split(","))


def _when(options: dict[str, str], name: str) -> datetime | None:
    value = options.get(name)
    return None if value is None else parse_timestamp(value, name)


def parse_timestamp(value: str, name: str) -> datetime:
    """ssh-keygen's ``YYYYMMDD[HHMM[SS]][Z]``: UTC with ``Z``, local time without."""
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        raise ValueError(f"{name}={value}: expected YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS")
    digits = (match[1] + (match[2] or "")).ljust(14, "0")
    try:
        naive = datetime.strptime(digits, "%Y%m%d%H%M%S")
        return naive.replace(tzinfo=UTC) if match[4] else naive.astimezone()
    except (ValueError, OverflowError):  # no such day; or local time before year 1, after 9999
        raise ValueError(f"{name}={value}: not a valid date") from None
