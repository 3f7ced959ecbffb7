"""``adapterctl render``: an environment's desired state for existing engines and gateways."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from adapterctl.cli.options import (
    EndpointOption,
    EnvOption,
    RootOption,
    StoreOption,
    write_report,
)
from adapterctl.cli.stores import store_for
from adapterctl.config import resolve_root, store_uri
from adapterctl.errors import ExitCode, UsageError
from adapterctl.layout import check_env_name
from adapterctl.serving.desired import DesiredState, desired_state
from adapterctl.serving.render import (
    DEFAULT_ADAPTER_DIR,
    DEFAULT_API_BASE,
    DEFAULT_REFRESH_INTERVAL,
    RENDERERS,
    ArgsFormat,
    Rendered,
    RenderOptions,
    Target,
    Text,
    artifact_base,
    render,
    write_tree,
)
from adapterctl.store.base import Store

ALL = frozenset(Target)
FOLDERS = frozenset({Target.RESOLVER_DIR, Target.NIM})
"""The targets that write a folder (--output DIR)."""
APPLIES = {
    "--format": frozenset({Target.VLLM_ARGS, Target.TGI}),
    "--adapter-dir": FOLDERS | {Target.VLLM_ARGS, Target.TGI},
    "--copy": FOLDERS,
    "--force": FOLDERS,
    "--namespace": frozenset({Target.AIBRIX, Target.KSERVE}),
    "--base-name": ALL - {Target.TGI, Target.NIM},
    "--base-uri": frozenset({Target.KSERVE, Target.TGI}),
    "--api-base": frozenset({Target.LITELLM}),
    "--pool-api-base": frozenset({Target.LITELLM}),
    "--peft-source": frozenset({Target.NIM}),
    "--refresh-interval": frozenset({Target.NIM}),
}


TargetOption = Annotated[Target, typer.Option("--target", help="What to render for.")]
RefOption = Annotated[
    str,
    typer.Option("--ref", metavar="REF", help="The commit to read ENV at (never the work tree)."),
]
RenderOutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", metavar="PATH", help="Write here (a folder for resolver-dir and nim)."
    ),
]
ArgsFormatOption = Annotated[
    ArgsFormat | None,
    typer.Option("--format", "-f", help="vllm-args, tgi: a shell-quoted line or a JSON list."),
]
AdapterDirOption = Annotated[
    str | None,
    typer.Option(
        "--adapter-dir",
        metavar="DIR",
        help=f"The nodes' adapter cache, artifacts under DIR/sha256/<hex> "
        f"(the node config's cache_dir; default {DEFAULT_ADAPTER_DIR}).",
    ),
]
CopyOption = Annotated[
    bool,
    typer.Option("--copy", help="resolver-dir, nim: copy verified artifacts from the store."),
]
ForceOption = Annotated[
    bool,
    typer.Option("--force", help="resolver-dir, nim: replace a folder render did not write."),
]
NamespaceOption = Annotated[
    str | None,
    typer.Option("--namespace", metavar="NS", help="aibrix, kserve: metadata.namespace."),
]
BaseNameOption = Annotated[
    str | None,
    typer.Option(
        "--base-name",
        metavar="NAME",
        help="The base's served name (vLLM --served-model-name; default: its manifest name).",
    ),
]
BaseUriOption = Annotated[
    str | None,
    typer.Option(
        "--base-uri",
        metavar="URI",
        help="kserve: the base model's URI (default: its weights_artifact in the store); "
        "tgi: --model-id, the base's folder on the nodes or a Hub id (required).",
    ),
]
ApiBaseOption = Annotated[
    str | None,
    typer.Option(
        "--api-base",
        metavar="URL",
        help=f"litellm: the vLLM endpoint (default {DEFAULT_API_BASE}, read at startup).",
    ),
]
PoolApiBaseOption = Annotated[
    list[str] | None,
    typer.Option(
        "--pool-api-base",
        metavar="NAME@REVISION=URL",
        help="litellm: the endpoint of the nodes serving a base the environment routes as a "
        "model of its own (repeatable; default --api-base).",
    ),
]
PeftSourceOption = Annotated[
    str | None,
    typer.Option(
        "--peft-source",
        metavar="DIR",
        help="nim: NIM_PEFT_SOURCE, the folder's path inside the NIM container "
        "(default: --output).",
    ),
]
RefreshIntervalOption = Annotated[
    int | None,
    typer.Option(
        "--refresh-interval",
        metavar="SECONDS",
        min=1,
        help="nim: NIM_PEFT_REFRESH_INTERVAL, seconds between NIM's rescans of the folder "
        f"(default {DEFAULT_REFRESH_INTERVAL}).",
    ),
]


def command(
    env: EnvOption,
    target: TargetOption,
    ref: RefOption = "HEAD",
    output: RenderOutputOption = None,
    fmt: ArgsFormatOption = None,
    adapter_dir: AdapterDirOption = None,
    copy: CopyOption = False,
    force: ForceOption = False,
    namespace: NamespaceOption = None,
    base_name: BaseNameOption = None,
    base_uri: BaseUriOption = None,
    api_base: ApiBaseOption = None,
    pool_api_base: PoolApiBaseOption = None,
    peft_source: PeftSourceOption = None,
    refresh_interval: RefreshIntervalOption = None,
    store: StoreOption = None,
    endpoint_url: EndpointOption = None,
    root: RootOption = None,
) -> int:
    """Render ENV as committed for vLLM, its resolver, AIBrix, KServe, LiteLLM, TGI or NIM."""
    registry = resolve_root(root)
    check_env_name(env)
    given: dict[str, object] = {"--format": fmt, "--adapter-dir": adapter_dir}
    given |= {"--copy": copy or None}
    given |= {"--force": force or None, "--namespace": namespace, "--base-name": base_name}
    given |= {"--base-uri": base_uri, "--api-base": api_base, "--peft-source": peft_source}
    given |= {"--refresh-interval": refresh_interval, "--pool-api-base": pool_api_base or None}
    _check_applicable(target, given)
    _check_output(target, output, copy and adapter_dir is not None)
    state = desired_state(registry, env, ref)
    pools = _pools(state, pool_api_base or [])
    options = RenderOptions(
        adapter_dir=adapter_dir or DEFAULT_ADAPTER_DIR,
        api_base=api_base or DEFAULT_API_BASE,
        namespace=namespace,
        base_name=base_name,
        base_uri=base_uri,
        artifacts=artifact_base(store_uri(registry, store), registry)
        if RENDERERS[target].uses_store
        else None,
        args_format=fmt or ArgsFormat.SHELL,
        copy=copy,
        peft_source=peft_source or (str(output.absolute()) if output else None),
        refresh_interval=refresh_interval or DEFAULT_REFRESH_INTERVAL,
        pool_api_bases=pools,
    )
    rendered = render(state, target, options)
    for warning in rendered.warnings:
        sys.stderr.write(f"adapterctl: warning: {warning}\n")
    _write(rendered, output, store_for(registry, store, endpoint_url) if copy else None, force)
    if output is not None:
        sys.stderr.write(f"wrote {output}: {_summary(state)}\n")
    return ExitCode.OK


def _check_applicable(target: Target, given: Mapping[str, object]) -> None:
    for option, value in given.items():
        if value is not None and target not in APPLIES.get(option, ALL):
            raise UsageError(f"{option} does not apply to --target {target.value}")


def _pools(state: DesiredState, given: list[str]) -> tuple[tuple[str, str], ...]:
    """``--pool-api-base NAME@REVISION=URL`` values, each naming a base ENV routes."""
    routed = sorted(b.served_name for b in state.bases)
    pools = []
    for text in given:
        name, sep, url = text.partition("=")
        if not sep or not url:
            raise UsageError(f"--pool-api-base {text}: expected NAME@REVISION=URL")
        if name not in routed:
            known = ", ".join(routed) or "none"
            raise UsageError(f"--pool-api-base {text}: {state.env} routes no base {name} "
                             f"(its routed bases: {known})")  # fmt: skip
        pools.append((name, url))
    return tuple(pools)


def _check_output(target: Target, output: Path | None, copy_with_dir: bool) -> None:
    if target in FOLDERS and output is None:
        raise UsageError(f"--target {target.value} writes a folder: pass --output DIR")
    if copy_with_dir:
        raise UsageError("--adapter-dir does not apply with --copy (the copies live in --output)")


def _write(rendered: Rendered, output: Path | None, source: Store | None, force: bool) -> None:
    """A text to stdout or ``output``; a folder to ``output`` (links, or copies from
    ``source``), then its environment file, if any, to stdout."""
    if isinstance(rendered, Text):
        _write_text(rendered.text, output)
    elif output is not None:  # _check_output: a folder target always has one
        write_tree(rendered, output, store=source, force=force)
        sys.stdout.write(rendered.env)


def _write_text(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        write_report(output, text)


def _summary(state: DesiredState) -> str:
    count = len(state.revisions)
    noun = "revision" if count == 1 else "revisions"
    return f"{count} {noun} of {state.env} at commit {state.commit[:12]}"
