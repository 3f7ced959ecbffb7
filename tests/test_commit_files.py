"""The verifier's files for ``verify-commit``: allowed signers, revocations, fingerprints.

Keys here are fixed test vectors (an ed25519 public key and its ``ssh-keygen -l``
fingerprint), so these tests need neither ssh-keygen nor gpg.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapterctl.errors import InputError
from adapterctl.signing.commit_keyring import parse_colons
from adapterctl.signing.commit_keys import normalize_fingerprint, ssh_fingerprint
from adapterctl.signing.commit_revocations import read_revocations
from adapterctl.signing.commit_signers import AllowedSigner, parse_line, read_allowed_signers

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM58EG+nAwdw0rvPPvufhTjxQreMS0CgL1/bB5Y6ou2t"
FINGERPRINT = "SHA256:OqAa6Ec4Fgkfg72kIWGFpMnJO94AjaXUwI6Ex3KUpiA"
GPG = "351DCA5D69F309D146BDEABCA55D8689F5CCAB34"


def test_ssh_fingerprint_matches_ssh_keygen() -> None:
    key_type, data = KEY.split()
    assert ssh_fingerprint(key_type, data) == FINGERPRINT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (FINGERPRINT, FINGERPRINT),
        (f"  {FINGERPRINT}\n", FINGERPRINT),
        (GPG.lower(), GPG),
        ("0x" + GPG, GPG),
        ("351D CA5D 69F3 09D1 46BD  EABC A55D 8689 F5CC AB34", GPG),
        ("A55D8689F5CCAB34", None),  # a key ID is not a fingerprint
        ("SHA256:short", None),
        ("MD5:aa:bb", None),
    ],
)
def test_normalize_fingerprint(text: str, expected: str | None) -> None:
    assert normalize_fingerprint(text) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"alice@example.com {KEY}", AllowedSigner(("alice@example.com",), FINGERPRINT, 1)),
        (
            f"alice@example.com,a@example.org {KEY} alice's laptop",
            AllowedSigner(("alice@example.com", "a@example.org"), FINGERPRINT, 1),
        ),
        (
            f'"*@example.com" namespaces="git,file",valid-after=20240101Z {KEY}',
            AllowedSigner(
                ("*@example.com",),
                FINGERPRINT,
                1,
                namespaces=("git", "file"),
                valid_after=datetime(2024, 1, 1, tzinfo=UTC),
            ),
        ),
        (
            f"ca@example.com cert-authority,VALID-BEFORE=20240601123045Z {KEY}",
            AllowedSigner(
                ("ca@example.com",),
                FINGERPRINT,
                1,
                valid_before=datetime(2024, 6, 1, 12, 30, 45, tzinfo=UTC),
                cert_authority=True,
            ),
        ),
    ],
)
def test_allowed_signers_lines(line: str, expected: AllowedSigner) -> None:
    assert parse_line(line, 1) == expected


def test_timestamp_without_z_is_local_time() -> None:
    signer = parse_line(f"a@example.com valid-before=202406011200 {KEY}", 1)
    assert signer.valid_before == datetime(2024, 6, 1, 12, 0).astimezone()


def test_validity_window_and_namespaces() -> None:
    signer = parse_line(f'a@example.com namespaces="file",valid-after=20240101Z {KEY}', 1)
    assert not signer.accepts_git()
    assert not signer.accepts_at(datetime(2023, 12, 31, tzinfo=UTC))
    assert signer.accepts_at(datetime(2024, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("alice@example.com", "expected principals, a key type and a key"),
        (f"{KEY}", "the line starts with the key type: the principals come first"),
        (
            "alice@example.com AAAAC3Nza comment",
            "'AAAAC3Nza' is not an SSH key type (ssh-ed25519, ecdsa-sha2-nistp256, …)",
        ),
        (
            f"alice@example.com namespaces=git ssh-dss {KEY.split()[1]}",
            "'ssh-dss' is not an SSH key type (ssh-ed25519, ecdsa-sha2-nistp256, …)",
        ),
        (
            f"alice@example.com ssh-dss {KEY.split()[1]}",
            "'ssh-dss' is not an SSH key type (ssh-ed25519, ecdsa-sha2-nistp256, …)",
        ),
        ("alice@example.com ssh-ed25519 not*base64", "the key is not valid base64"),
        (
            f"alice@example.com ssh-rsa {KEY.split()[1]}",
            "the key data says ssh-ed25519, not ssh-rsa",
        ),
        (f"alice@example.com ssh-ed25519 {'AAAA' * 2}", "the key data is malformed"),
        (f"alice@example.com no-touch-required {KEY}", "unknown option 'no-touch-required'"),
        (f"alice@example.com namespaces {KEY}", "option 'namespaces' needs a value"),
        (f"alice@example.com cert-authority=yes {KEY}", "option 'cert-authority' takes no value"),
        (
            f"alice@example.com cert-authority,,namespaces=git {KEY}",
            "empty option (two commas in a row?)",
        ),
        (f'alice@example.com namespaces="git {KEY}', "unterminated double quote"),
        (f"alice@example.com valid-after=20241301 {KEY}", "valid-after=20241301: not a valid date"),
        (
            f"alice@example.com valid-before=tomorrow {KEY}",
            "valid-before=tomorrow: expected YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS",
        ),
        (f'"" {KEY}', "no principal before the key"),
    ],
)
def test_bad_allowed_signers_lines(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=r".*") as caught:
        parse_line(line, 1)
    assert str(caught.value) == message


def test_allowed_signers_file_skips_comments_and_counts_lines(tmp_path: Path) -> None:
    path = tmp_path / "allowed_signers"
    path.write_text(f"# release managers\n\n  alice@example.com {KEY}  \n")
    signers = read_allowed_signers(path)
    assert signers.signers == (AllowedSigner(("alice@example.com",), FINGERPRINT, 3),)
    assert signers.for_key(FINGERPRINT) == signers.signers
    assert signers.for_key("SHA256:other") == ()


def test_unreadable_allowed_signers_file(tmp_path: Path) -> None:
    path = tmp_path / "allowed_signers"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(InputError) as caught:
        read_allowed_signers(path)
    assert caught.value.message == f"{path}: cannot read the allowed signers file: not UTF-8 text"


def test_revocation_file_entries(tmp_path: Path) -> None:
    path = tmp_path / "revoked"
    other = "SHA256:" + "A" * 43
    path.write_text(f"# revoked\n{KEY} old laptop\n{other}\n{GPG.lower()}\n")
    revocations = read_revocations(path)
    assert revocations.fingerprints == frozenset({FINGERPRINT, other, GPG})
    assert revocations.krl is None
    assert revocations.revoked("", FINGERPRINT)
    assert not revocations.revoked("", "")


def test_binary_key_revocation_list_is_left_to_git(tmp_path: Path) -> None:
    path = tmp_path / "revoked.krl"
    path.write_bytes(b"SSHKRL\n\0\0\0\0\1rest")
    assert read_revocations(path).krl == path


def test_revocation_file_that_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "revoked"
    path.write_bytes(b"\x00\xff")
    with pytest.raises(InputError) as caught:
        read_revocations(path)
    assert (
        caught.value.message
        == f"{path}: the revocation file is neither UTF-8 text nor an OpenSSH KRL"
    )


def test_gpg_colon_listing() -> None:
    listing = (
        "tru::1:1795539179:0:3:1:5\n"
        "pub:u:255:22:A55D8689F5CCAB34:1795539179:::u:::scSC:::::ed25519:::0:\n"
        f"fpr:::::::::{GPG}:\n"
        "uid:u::::1795539179::AD66::Alice \\x3a ops <alice@example.com>::::::::::0:\n"
        "sub:u:255:18:1111111111111111:1795539179::::::e:::::cv25519::\n"
        "fpr:::::::::1111111111111111111111111111111111111111:\n"
        "pub:u:255:22:017F390FCE2FA82E:1795539179:::u:::scSC:::::ed25519:::0:\n"
        "fpr:::::::::000FB7328342D9BF2D2A3997017F390FCE2FA82E:\n"
        "uid:u::::1795539179::808C::GitHub <noreply@github.com>::::::::::0:\n"
    )
    keys = parse_colons(listing)
    assert [(key.fingerprints, key.user_ids) for key in keys] == [
        ((GPG, "1" * 40), ("Alice : ops <alice@example.com>",)),
        (("000FB7328342D9BF2D2A3997017F390FCE2FA82E",), ("GitHub <noreply@github.com>",)),
    ]
