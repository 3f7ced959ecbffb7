"""``register-base``: fingerprint a base model directory and write its manifest."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from adapterctl import layout
from adapterctl.inspect.base import read_base
from adapterctl.inspect.chat_template import PROBES, find_chat_template
from adapterctl.inspect.chat_template import render as render_template
from adapterctl.model import BaseManifest
from adapterctl.model.kinds import Kind
from adapterctl.register.writer import ensure_new, now, render, write_new
from adapterctl.store.base import Store
from adapterctl.store.digests import digest_directory
from adapterctl.store.publish import publish


def store_tokenizer(store: Store, model_dir: Path, files: tuple[str, ...]) -> str:
    """Put the tokenizer and chat-template files into the store; returns their digest."""
    with tempfile.TemporaryDirectory(prefix="adapterctl-tokenizer-") as tmp:
        staging = Path(tmp)
        for name in files:
            shutil.copyfile(model_dir / name, staging / name)
        digests = digest_directory(staging)
        publish(store, digests.digest, staging, digests.files, model_dir)
    return digests.digest


def _store_model(store: Store, model_dir: Path) -> str:
    digests = digest_directory(model_dir)
    publish(store, digests.digest, model_dir, digests.files)
    return digests.digest


def register_base(
    root: Path,
    model_dir: Path,
    store: Store,
    *,
    name: str,
    revision: str,
    source: str | None = None,
    aliases: tuple[str, ...] = (),
    store_weights: bool = False,
) -> str:
    """Write ``bases/<name>/<revision>.yaml``; returns its path."""
    path = layout.base_path(name, revision)
    ensure_new(root, path)
    info = read_base(model_dir)
    _check_chat_template(model_dir)
    manifest = BaseManifest.model_validate(
        {
            "name": name,
            "revision": revision,
            "created": now(),
            "source": source,
            "aliases": aliases,
            "architecture": info.architecture,
            "config_digest": info.config_digest,
            "tokenizer_digest": info.tokenizer_digest,
            "chat_template_digest": info.chat_template_digest,
            "tokenizer_artifact": store_tokenizer(store, model_dir, info.tokenizer_files),
            "weights_artifact": _store_model(store, model_dir) if store_weights else None,
            "quantization": info.quantization,
            "vocab_size": info.vocab_size,
            "max_model_len": info.max_model_len,
            "shapes": info.shapes,
        }
    )
    write_new(root, path, render(path, Kind.BASE, manifest))
    return path


def _check_chat_template(model_dir: Path) -> None:
    """The base's chat template, if any, renders a conversation (ChatTemplateError names
    its file, field and line otherwise): one that is not Jinja, or raises, cannot serve."""
    found = find_chat_template(model_dir)
    if found is None:
        return
    template, file = found
    source = f"{model_dir / file}" + (" $.chat_template" if file.endswith(".json") else "")
    _, conversation = PROBES[-1]
    render_template(template, bos_token="", eos_token="", source=source, messages=conversation)
