"""Writing a rendered directory whole or not at all.

The tree is built in a temporary sibling folder, then renamed into place; a folder that
a previous render wrote (it holds the marker file) is swapped out and removed. A folder
adapterctl did not write is never replaced without ``force``. An entry is a link to the
artifact's folder in the node's cache, a folder of links to its files, or a copy fetched
from the store and verified against the manifest (every file's digest and the subject
digest).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path

from adapterctl.errors import InputError, UsageError
from adapterctl.serving.render._folder import MARKER
from adapterctl.serving.render.base import Tree, TreeEntry
from adapterctl.store.base import Store
from adapterctl.store.digests import digest_directory


def write_tree(tree: Tree, output: Path, *, store: Store | None, force: bool) -> None:
    """Write ``tree`` at ``output``: symlinks, or verified copies from ``store``."""
    _check_replaceable(output, force)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=f".{output.name}.tmp-", dir=output.parent))
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}") from None
    try:
        _fill(tree, temp, store)
        temp.chmod(0o755)
        _swap(temp, output)
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror}") from None
    finally:
        if temp.exists():
            shutil.rmtree(temp)


def _check_replaceable(output: Path, force: bool) -> None:
    if output.is_symlink() or (output.exists() and not output.is_dir()):
        raise UsageError(f"--output {output}: exists and is not a folder")
    if not output.is_dir() or force or (output / MARKER).is_file():
        return
    if any(output.iterdir()):
        raise UsageError(
            f"--output {output}: the folder is not empty and was not written by adapterctl render",
            hint="pass --force to replace it",
        )


def _fill(tree: Tree, folder: Path, store: Store | None) -> None:
    for entry in tree.entries:
        if store is not None:
            _copy(store, entry, folder / entry.name)
        elif tree.link_files:
            _link_files(entry, folder / entry.name)
        else:
            (folder / entry.name).symlink_to(entry.link)
    (folder / MARKER).write_text(tree.marker, encoding="utf-8")


def _link_files(entry: TreeEntry, target: Path) -> None:
    """A folder with one link per artifact file, into the artifact's folder in the cache."""
    for name in sorted(entry.revision.manifest.artifact.files):
        link = target / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(f"{entry.link}/{name}")


def _swap(temp: Path, output: Path) -> None:
    if not output.exists():
        temp.rename(output)
        return
    old = output.with_name(f".{output.name}.old-{secrets.token_hex(6)}")
    output.rename(old)
    try:
        temp.rename(output)
    except OSError:
        old.rename(output)
        raise
    _remove(old)


def _remove(folder: Path) -> None:
    """Remove a folder that may hold read-only copies of artifacts."""
    for path in folder.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(folder)


def _copy(store: Store, entry: TreeEntry, target: Path) -> None:
    store.fetch(entry.revision.digest, target)
    problem = _mismatch(entry, target)
    if problem is not None:
        raise InputError(
            f"{entry.name}: the artifact {entry.revision.digest} in the store {store.uri} "
            f"does not match its manifest: {problem}",
            hint="run adapterctl check to see every integrity finding",
        )


def _mismatch(entry: TreeEntry, folder: Path) -> str | None:
    expected = {
        name: str(file.digest) for name, file in entry.revision.manifest.artifact.files.items()
    }
    found = digest_directory(folder)
    actual = {file.name: file.digest for file in found.files}
    for name in sorted(expected.keys() | actual.keys()):
        if name not in actual:
            return f"{name} is missing"
        if name not in expected:
            return f"{name} is not in the manifest"
        if actual[name] != expected[name]:
            return f"{name} has digest {actual[name]}, the manifest says {expected[name]}"
    if found.digest != entry.revision.digest:
        return f"the files' subject digest is {found.digest}"
    return None
