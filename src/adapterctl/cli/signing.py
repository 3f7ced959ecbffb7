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
from adapterctl.cli.options import (
    EndpointOption,
    FormatOption,
    OutputOption,
    RootOption,
    StoreOption,
    TargetArgument,
    emit,
    parse_base,
    parse_target,
)
from adapterctl.cli.stores import store_for
from adapterctl.config import resolve_root, store_uri
from adapterctl.errors import ExitCode, InputError, UsageError
from adapterctl.findings import Finding, Location, Report, Severity
from adapterctl.fsutil import write_atomic
from adapterctl.model.kinds import Kind
from adapterctl.model.trust import TRUST_ENV
from adapterctl.registry import Registry
from adapterctl.report import Format
from adapterctl.store.digests import DigestCache

if TYPE_CHECKING:
    from adapterctl.signing.sign import KeySigner, SignerConfig, Subject

PASSWORD_ENV = "ADAPTERCTL_KEY_PASSWORD"
BaseFlag = Annotated[
    bool,
    typer.Option("--base", help="The targets are bases, NAME@REVISION (their stored weights)."),
]


def sign_command(
    target: TargetArgument,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            metavar="PEM",
            help="EC P-256/P-384/P-521 private key, PKCS#8 or SEC1 PEM (key mode; with "
            f"--certificate, its key). An encrypted key's password comes from ${PASSWORD_ENV} "
            "or --key-password-file.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    key_password_file: Annotated[
        Path | None,
        typer.Option(
            "--key-password-file",
            metavar="FILE",
            help="A file holding the encrypted --key's password (a mounted secret; its "
            "trailing newline is ignored).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    certificate: Annotated[
        Path | None,
        typer.Option(
            "--certificate",
            metavar="PEM",
            help="Signing certificate from the private CA (certificate mode).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    chain: Annotated[
        list[Path] | None,
        typer.Option(
            "--chain",
            metavar="PEM",
            help="Intermediate CA certificates (repeatable).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    pkcs11_uri: Annotated[
        str | None,
        typer.Option("--pkcs11-uri", metavar="URI", help="A key in a PKCS#11 token (RFC 7512)."),
    ] = None,
    pkcs11_module: Annotated[
        list[str] | None,
        typer.Option(
            "--pkcs11-module",
            metavar="PATH",
            help="Folder to search for the URI's module-name (repeatable).",
        ),
    ] = None,
    sigstore: Annotated[
        bool, typer.Option("--sigstore", help="Sigstore keyless (needs --trust-config).")
    ] = False,
    trust_config: Annotated[
        Path | None,
        typer.Option(
            "--trust-config",
            metavar="FILE",
            help="The private Sigstore deployment's client trust configuration (JSON).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    identity_token: Annotated[
        str | None,
        typer.Option(
            "--identity-token",
            envvar="ADAPTERCTL_IDENTITY_TOKEN",
            help="OIDC token for keyless signing (default: ambient credentials).",
        ),
    ] = None,
    oidc_issuer: Annotated[
        str | None, typer.Option("--oidc-issuer", metavar="URL", help="OIDC issuer (keyless).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing bundle.")] = False,
    base: BaseFlag = False,
    root: RootOption = None,
    store: StoreOption = None,
    endpoint_url: EndpointOption = None,
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
        store_for(registry_root, store, endpoint_url),
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


def verify_command(
    targets: Annotated[
        list[str] | None,
        typer.Argument(metavar="[NAME@VERSION]...", help="Revisions to verify."),
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Verify every revision.")] = False,
    env: Annotated[
        str | None,
        typer.Option("--env", help="Accept only the signers this environment allows."),
    ] = None,
    trust: Annotated[
        Path | None,
        typer.Option(
            "--trust",
            envvar=TRUST_ENV,
            metavar="FILE",
            help="The verifier's trust file (never one from the repository being verified).",
            dir_okay=False,
        ),
    ] = None,
    root: RootOption = None,
    store: StoreOption = None,
    endpoint_url: EndpointOption = None,
    fmt: FormatOption = Format.TEXT,
    output: OutputOption = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Parallel verifiers (default: cores).")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Hash every file again (ignore the digest cache).")
    ] = False,
    signers_out: Annotated[
        Path | None,
        typer.Option(
            "--signers-out",
            metavar="FILE",
            help="Write NAME@VERSION: identity for every bundle that verified (policy check "
            "--signers reads it).",
            dir_okay=False,
        ),
    ] = None,
    base: BaseFlag = False,
) -> int:
    """Verify revisions' signature bundles, offline, against the verifier's trust file (with
    --base, bases' bundles over their stored weights; --all --base: every merged base)."""
    from adapterctl.gates import trust as gate  # noqa: PLC0415 - heavy, see above

    if trust is None:
        raise UsageError(
            f"verify needs the verifier's trust file: pass --trust FILE or set {TRUST_ENV}"
        )
    registry_root = resolve_root(root)
    registry = Registry.load(registry_root)
    wanted = _wanted(registry, targets or (), every, base)
    loaded, problems = gate.load_trust(trust, str(trust))
    if loaded is None:
        return emit(Report.build("verify", [str(trust)], problems), fmt, output)
    allowed = gate.environment_signers(registry, env) if env is not None else None
    if isinstance(allowed, Finding):
        return emit(Report.build("verify", [allowed.location.file], [allowed]), fmt, output)
    setup = gate.Setup(
        trust_file=trust.absolute(),
        trust_display=str(trust),
        allowed=allowed,
        environment=None if env is None else f"environments/{env}",
        store_uri=store_uri(registry_root, store),
        endpoint_url=endpoint_url,
        root=registry_root,
        cache=None if no_cache else DigestCache.default().path,
        now=gate.now(),
    )
    store_for(registry_root, store, endpoint_url)  # a bad store URI is a usage error, early
    chosen = (gate.base_targets_of if base else gate.targets_of)(registry, wanted)
    report, signed = gate.verify_targets(setup, loaded, chosen, registry.locate, workers)
    if signers_out is not None:
        _write_signers(signers_out, signed)
    return emit(_with_self_trust(report, trust, registry_root), fmt, output)


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
