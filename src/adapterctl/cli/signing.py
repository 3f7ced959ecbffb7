"""``adapterctl sign`` and ``adapterctl verify``: model-signing bundles over adapter artifacts.

model-signing and sigstore take a quarter of a second to import: they are imported when
one of these commands runs, not whenever ``adapterctl`` starts.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from adapterctl import layout
from adapterctl.cli.groups import option_groups
from adapterctl.cli.options import (
    DEFAULT_REPORT,
    DEFAULT_STORE,
    ReportArgs,
    RootOption,
    StoreArgs,
    TargetArgument,
    file_option,
    parse_base,
    parse_target,
    require_trust,
    trust_option,
)
from adapterctl.config import resolve_root
from adapterctl.errors import ExitCode, InputError, UsageError
from adapterctl.findings import Finding, Location, Report, Severity
from adapterctl.fsutil import write_atomic
from adapterctl.model.kinds import Kind
from adapterctl.registry import Registry
from adapterctl.store.digests import DigestCache

if TYPE_CHECKING:
    from adapterctl.signing.sign import KeySigner, SignerConfig, Subject

PASSWORD_ENV = "ADAPTERCTL_KEY_PASSWORD"
BaseFlag = Annotated[
    bool,
    typer.Option("--base", help="The targets are bases, NAME@REVISION (their stored weights)."),
]


KeyOption = Annotated[
    Path | None,
    file_option(
        "--key",
        "EC P-256/P-384/P-521 private key, PKCS#8 or SEC1 PEM (key mode; with --certificate, "
        f"its key). An encrypted key's password comes from ${PASSWORD_ENV} or "
        "--key-password-file.",
        metavar="PEM",
    ),
]
KeyPasswordFileOption = Annotated[
    Path | None,
    file_option(
        "--key-password-file",
        "A file holding the encrypted --key's password (a mounted secret; its trailing "
        "newline is ignored).",
    ),
]
CertificateOption = Annotated[
    Path | None,
    file_option(
        "--certificate",
        "Signing certificate from the private CA (certificate mode).",
        metavar="PEM",
    ),
]
ChainOption = Annotated[
    list[Path] | None,
    file_option("--chain", "Intermediate CA certificates (repeatable).", metavar="PEM"),
]
Pkcs11UriOption = Annotated[
    str | None,
    typer.Option("--pkcs11-uri", metavar="URI", help="A key in a PKCS#11 token (RFC 7512)."),
]
Pkcs11ModuleOption = Annotated[
    list[str] | None,
    typer.Option(
        "--pkcs11-module",
        metavar="PATH",
        help="Folder to search for the URI's module-name (repeatable).",
    ),
]
SigstoreFlag = Annotated[
    bool, typer.Option("--sigstore", help="Sigstore keyless (needs --trust-config).")
]
TrustConfigOption = Annotated[
    Path | None,
    file_option(
        "--trust-config", "The private Sigstore deployment's client trust configuration (JSON)."
    ),
]
IdentityTokenOption = Annotated[
    str | None,
    typer.Option(
        "--identity-token",
        envvar="ADAPTERCTL_IDENTITY_TOKEN",
        help="OIDC token for keyless signing (default: ambient credentials).",
    ),
]
OidcIssuerOption = Annotated[
    str | None, typer.Option("--oidc-issuer", metavar="URL", help="OIDC issuer (keyless).")
]
ForceFlag = Annotated[bool, typer.Option("--force", help="Replace an existing bundle.")]


@option_groups
def sign_command(
    target: TargetArgument,
    key: KeyOption = None,
    key_password_file: KeyPasswordFileOption = None,
    certificate: CertificateOption = None,
    chain: ChainOption = None,
    pkcs11_uri: Pkcs11UriOption = None,
    pkcs11_module: Pkcs11ModuleOption = None,
    sigstore: SigstoreFlag = False,
    trust_config: TrustConfigOption = None,
    identity_token: IdentityTokenOption = None,
    oidc_issuer: OidcIssuerOption = None,
    force: ForceFlag = False,
    base: BaseFlag = False,
    root: RootOption = None,
    where: StoreArgs = DEFAULT_STORE,
) -> int:
    """Sign a revision's artifact: writes adapters/<name>/<version>.sigstore.json (with
    --base, a base's stored weights: bases/<name>/<revision>.sigstore.json)."""
    from adapterctl.signing.sign import KeySigner, sign_subject  # noqa: PLC0415 - heavy

    signer = _signer(
        key, certificate, tuple(chain or ()), pkcs11_uri, tuple(pkcs11_module or ()),
        sigstore, trust_config, identity_token, oidc_issuer,
    )  # fmt: skip
    if isinstance(signer, KeySigner):
        signer = _with_password(signer, key_password_file)
    elif key_password_file is not None:
        raise UsageError("--key-password-file goes with --key (key mode)")
    registry_root = resolve_root(root)
    subject = _subject(Registry.load(registry_root), target, base)
    written, bundle = sign_subject(
        registry_root,
        subject,
        where.open(registry_root),
        signer,
        force=force,
        cache=DigestCache.default(),
    )
    sys.stdout.write(f"signed {target} ({bundle.mode} mode): wrote {written}\n")
    sys.stdout.write(f"  subject {bundle.subject_digest}\n")
    return ExitCode.OK


def _subject(registry: Registry, target: str, base: bool) -> Subject:
    from adapterctl.signing.sign import base_subject, revision_subject  # noqa: PLC0415 - heavy

    if not base:
        name, version = parse_target(target)
        revision = registry.revision(name, version)
        if revision is None:
            raise UsageError(f"no valid revision {name}@{version}: run adapterctl validate first")
        return revision_subject(revision)
    name, revision_label = parse_base(target)
    manifest = registry.base(name, revision_label)
    if manifest is None:
        path = layout.base_path(name, revision_label)
        raise UsageError(f"no valid base {target}: {path} is missing or invalid")
    return base_subject(manifest)


def _signer(
    key: Path | None,
    certificate: Path | None,
    chain: tuple[Path, ...],
    pkcs11_uri: str | None,
    modules: tuple[str, ...],
    sigstore: bool,
    trust_config: Path | None,
    identity_token: str | None,
    oidc_issuer: str | None,
) -> SignerConfig:
    from adapterctl.signing import sign  # noqa: PLC0415 - heavy, see above

    modes = [certificate is not None or (key is not None), pkcs11_uri is not None, sigstore]
    if sum(modes) != 1:
        raise UsageError(
            "choose one way to sign: --key PEM, --certificate PEM --key PEM, "
            "--pkcs11-uri URI, or --sigstore --trust-config FILE"
        )
    if chain and certificate is None:
        raise UsageError("--chain goes with --certificate")
    if sigstore:
        if trust_config is None:
            raise UsageError("--sigstore needs --trust-config FILE (a private Sigstore deployment)")
        return sign.KeylessSigner(trust_config, identity_token, oidc_issuer)
    if pkcs11_uri is not None:
        return sign.Pkcs11Signer(pkcs11_uri, modules)
    if key is None:
        raise UsageError("--certificate needs --key PEM (the certificate's private key)")
    if certificate is not None:
        if not chain:
            raise UsageError(
                "--certificate needs --chain PEM: the intermediate CA certificates "
                "(or the root itself when it issues signing certificates directly)"
            )
        return sign.CertificateSigner(key, certificate, chain)
    return sign.KeySigner(key)


def _with_password(signer: KeySigner, password_file: Path | None) -> KeySigner:
    """The signer with its password (``$ADAPTERCTL_KEY_PASSWORD`` or the file), its key
    checked against the supported key types before anything is read or written."""
    from adapterctl.signing import keys  # noqa: PLC0415 - cryptography, as sign's imports

    from_env = os.environ.get(PASSWORD_ENV)
    if from_env is not None and password_file is not None:
        raise UsageError(f"give the key's password one way: ${PASSWORD_ENV} or --key-password-file")
    password = None if from_env is None else from_env.encode()
    if password_file is not None:
        password, warning = keys.read_password_file(password_file)
        if warning is not None:
            sys.stderr.write(f"adapterctl: warning: {warning}\n")
    keys.load_private_key(signer.key, password)
    return replace(signer, password=password)


TargetsArgument = Annotated[
    list[str] | None, typer.Argument(metavar="[NAME@VERSION]...", help="Revisions to verify.")
]
AllFlag = Annotated[bool, typer.Option("--all", help="Verify every revision.")]
SignersEnvOption = Annotated[
    str | None, typer.Option("--env", help="Accept only the signers this environment allows.")
]
TrustOption = Annotated[
    Path | None,
    trust_option("The verifier's trust file (never one from the repository being verified)."),
]
WorkersOption = Annotated[
    int | None, typer.Option("--workers", min=1, help="Parallel verifiers (default: cores).")
]
NoCacheFlag = Annotated[
    bool, typer.Option("--no-cache", help="Hash every file again (ignore the digest cache).")
]
SignersOutOption = Annotated[
    Path | None,
    file_option(
        "--signers-out",
        "Write NAME@VERSION: identity for every bundle that verified (policy check --signers "
        "reads it).",
        exists=False,
    ),
]


@option_groups
def verify_command(
    targets: TargetsArgument = None,
    every: AllFlag = False,
    env: SignersEnvOption = None,
    trust: TrustOption = None,
    root: RootOption = None,
    where: StoreArgs = DEFAULT_STORE,
    out: ReportArgs = DEFAULT_REPORT,
    workers: WorkersOption = None,
    no_cache: NoCacheFlag = False,
    signers_out: SignersOutOption = None,
    base: BaseFlag = False,
) -> int:
    """Verify revisions' signature bundles, offline, against the verifier's trust file (with
    --base, bases' bundles over their stored weights; --all --base: every merged base)."""
    from adapterctl.gates import trust as gate  # noqa: PLC0415 - heavy, see above

    trust = require_trust(trust, "verify needs the verifier's trust file")
    registry_root = resolve_root(root)
    registry = Registry.load(registry_root)
    wanted = _wanted(registry, targets or (), every, base)
    loaded, problems = gate.load_trust(trust, str(trust))
    if loaded is None:
        return out.emit(Report.build("verify", [str(trust)], problems))
    allowed = gate.environment_signers(registry, env) if env is not None else None
    if isinstance(allowed, Finding):
        return out.emit(Report.build("verify", [allowed.location.file], [allowed]))
    setup = gate.Setup.of(
        trust, registry_root, where.at(registry_root),
        None if no_cache else DigestCache.default().path,
        allowed=allowed, environment=None if env is None else f"environments/{env}",
    )  # fmt: skip
    where.open(registry_root)  # a bad store URI is a usage error, early
    chosen = (gate.base_targets_of if base else gate.targets_of)(registry, wanted)
    report, signed = gate.verify_targets(setup, loaded, chosen, registry.locate, workers)
    if signers_out is not None:
        _write_signers(signers_out, signed)
    return out.emit(_with_self_trust(report, trust, registry_root))


def _write_signers(path: Path, signed: dict[str, str]) -> None:
    """``NAME@VERSION: identity`` lines (``{}`` when none verified), written atomically."""
    lines = [f"{label}: {json.dumps(identity)}" for label, identity in sorted(signed.items())]
    text = "\n".join(lines) + "\n" if lines else "{}\n"
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise InputError(f"cannot write --signers-out {path}: {exc.strerror or exc}") from None


def _wanted(
    registry: Registry, targets: tuple[str, ...] | list[str], every: bool, base: bool
) -> list[tuple[str, str]]:
    if every:
        if targets:
            raise UsageError("give NAME@VERSION arguments or --all, not both")
        if base:
            bases = [registry.base(e.placement.name, e.placement.item or "")
                     for e in registry.of_kind(Kind.BASE)]  # fmt: skip
            return sorted((b.name, b.revision) for b in bases if b is not None and b.merge)
        entries = registry.of_kind(Kind.ADAPTER_REVISION)
        return sorted((e.placement.name, e.placement.item or "") for e in entries)
    if not targets:
        raise UsageError("name at least one NAME@VERSION, or use --all")
    return sorted({(parse_base if base else parse_target)(target) for target in targets})


def _with_self_trust(report: Report, trust: Path, root: Path) -> Report:
    """Warn when the trust file lives in the repository it is asked to vouch for."""
    if not trust.resolve().is_relative_to(root):
        return report
    message = "the trust file is inside the repository being verified"
    hint = (
        "outside examples, keep it in the verifier's own configuration: "
        "a repository cannot vouch for itself"
    )
    warning = Finding("trust/config", Severity.WARNING, Location(str(trust)), message, hint)
    return Report.build(report.command, report.checked, [*report.findings, warning])
