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
    RENDERERS,
    ArgsFormat,
    RenderOptions,
    Target,
    Text,
    artifact_base,
    render,
    write_tree,
)

ALL = frozenset(Target)
APPLIES = {
    "--format": frozenset({Target.VLLM_ARGS, Target.TGI}),
    "--adapter-dir": frozenset({Target.VLLM_ARGS, Target.RESOLVER_DIR, Target.TGI}),
    "--copy": frozenset({Target.RESOLVER_DIR}),
    "--force": frozenset({Target.RESOLVER_DIR}),
    "--namespace": frozenset({Target.AIBRIX, Target.KSERVE}),
    "--base-name": ALL - {Target.TGI},
    "--base-uri": frozenset({Target.KSERVE, Target.TGI}),
    "--api-base": frozenset({Target.LITELLM}),
}


TargetOption = Annotated[Target, typer.Option("--target", help="What to render for.")]
RefOption = Annotated[
    str,
    typer.Option("--ref", metavar="REF", help="The commit to read ENV at (never the work tree)."),
]
RenderOutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", metavar="PATH", help="Write here (a folder for resolver-dir)."),
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
    bool, typer.Option("--copy", help="resolver-dir: copy verified artifacts from the store.")
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="resolver-dir: replace a folder render did not write.")
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
    store: StoreOption = None,
    endpoint_url: EndpointOption = None,
    root: RootOption = None,
) -> int:
    """Render ENV as committed for vLLM, its filesystem resolver, AIBrix, KServe, LiteLLM or TGI."""
    registry = resolve_root(root)
    check_env_name(env)
    given = {"--format": fmt, "--adapter-dir": adapter_dir, "--copy": copy or None}
    given |= {"--force": force or None, "--namespace": namespace, "--base-name": base_name}
    _check_applicable(target, given | {"--base-uri": base_uri, "--api-base": api_base})
    _check_output(target, output, copy and adapter_dir is not None)
    state = desired_state(registry, env, ref)
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
    )
    rendered = render(state, target, options)
    for warning in rendered.warnings:
        sys.stderr.write(f"adapterctl: warning: {warning}\n")
    if isinstance(rendered, Text):
        _write_text(rendered.text, output)
    elif output is not None:  # _check_output: resolver-dir always has one
        source = store_for(registry, store, endpoint_url) if copy else None
        write_tree(rendered, output, store=source, force=force)
    if output is not None:
        sys.stderr.write(f"wrote {output}: {_summary(state)}\n")
    return ExitCode.OK


def _check_applicable(target: Target, given: Mapping[str, object]) -> None:
    for option, value in given.items():
        if value is not None and target not in APPLIES.get(option, ALL):
            raise UsageError(f"{option} does not apply to --target {target.value}")


def _check_output(target: Target, output: Path | None, copy_with_dir: bool) -> None:
    if target is Target.RESOLVER_DIR and output is None:
        raise UsageError("--target resolver-dir writes a folder: pass --output DIR")
    if copy_with_dir:
        raise UsageError("--adapter-dir does not apply with --copy (the copies live in --output)")


def _write_text(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        write_report(output, text)


def _summary(state: DesiredState) -> str:
    count = len(state.revisions)
    noun = "revision" if count == 1 else "revisions"
    return f"{count} {noun} of {state.env} at commit {state.commit[:12]}"
