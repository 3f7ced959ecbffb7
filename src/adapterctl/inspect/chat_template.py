"""Chat templates: where a model directory keeps one, its fingerprint, and how it renders.

Templates are rendered exactly as transformers' ``apply_chat_template`` does (an
immutable Jinja sandbox with ``trim_blocks``/``lstrip_blocks``, ``loopcontrols``, the
``{% generation %}`` tag, ``raise_exception``, ``strftime_now`` and a ``tojson`` that
keeps non-ASCII text), so two templates can be compared by what they produce.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, NoReturn

import jinja2
import jinja2.ext
from jinja2 import nodes
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

from adapterctl.errors import InputError
from adapterctl.inspect.tokenizer import (
    CHAT_TEMPLATE_FILES,
    TOKENIZER_CONFIG,
    Difference,
    load_json_object,
    special_token,
)

PROBE_CONVERSATION: Final[tuple[dict[str, str], ...]] = (
    {"role": "system", "content": "You are a concise assistant. Réponds en français."},
    {"role": "user", "content": "Bonjour ! Quelle est la capitale du Japon ? 日本の首都は？"},
    {"role": "assistant", "content": "Tokyo (東京) 🗼, depuis 1868."},
    {"role": "user", "content": "Merci.  And 2 + 2 = ?\n\tAnswer with one digit."},
)
PROBES: Final[tuple[tuple[str, tuple[dict[str, str], ...]], ...]] = (
    ("with a system message", PROBE_CONVERSATION),
    ("without a system message", PROBE_CONVERSATION[1:]),
)
"""Every conversation a comparison renders: templates often differ only when the
conversation has no system turn (a default system prompt, say)."""
PROBE_NOW: Final = datetime(2024, 1, 2, 3, 4, 5)
"""What ``strftime_now`` sees, so that a probe renders the same on every run."""

_CONTEXT = 30


class ChatTemplateError(InputError):
    """A chat template that cannot be found, read or rendered."""


def find_chat_template(model_dir: Path) -> tuple[str, str] | None:
    """The chat template of ``model_dir`` and the file it came from, or None.

    Precedence is transformers': a separate ``chat_template.jinja`` wins over everything;
    then the legacy ``chat_template.json`` (``{"chat_template": ...}``, which processors
    and vLLM prefer over the tokenizer's); then the ``chat_template`` key of
    ``tokenizer_config.json`` (a string, or a list of ``{"name", "template"}`` from
    which the one named ``default`` is used).
    """
    jinja_file, json_file = (model_dir / name for name in CHAT_TEMPLATE_FILES)
    if jinja_file.is_file():
        return _read_text(jinja_file), jinja_file.name
    for file in (json_file, model_dir / TOKENIZER_CONFIG):
        value = (load_json_object(file, ChatTemplateError) or {}).get("chat_template")
        if value is not None:
            return _template_value(file, value), file.name
    return None


def _read_text(path: Path) -> str:
    # Text mode, like transformers' own open(): "\r\n" reads as "\n".
    try:
        return path.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raise ChatTemplateError(f"{path}: not UTF-8: {exc}") from None


def _template_value(file: Path, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        for entry in value:
            if isinstance(entry, dict) and entry.get("name") == "default":
                template = entry.get("template")
                if isinstance(template, str):
                    return template
        raise ChatTemplateError(f"{file}: 'chat_template' lists no template named 'default'")
    raise ChatTemplateError(f"{file}: 'chat_template' must be a string or a list of templates")


def chat_template_digest(text: str) -> str:
    """``sha256:<hex>`` of the UTF-8 bytes of ``text``, exactly as given.

    No normalisation: whitespace in a template may or may not reach the output depending
    on ``trim_blocks``, ``lstrip_blocks`` and ``-`` markers, so only a Jinja renderer can
    tell a harmless edit from a real one. The digest says "not the same file";
    :func:`compare_templates` says whether that changes the prompt.
    """
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


class _GenerationTag(jinja2.ext.Extension):
    """transformers' ``{% generation %}…{% endgeneration %}``: renders its body."""

    tags = {"generation"}  # noqa: RUF012 (jinja2's own declaration is a plain set)

    def parse(self, parser: Parser) -> list[nodes.Node]:
        next(parser.stream)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


def _raise_exception(message: str) -> NoReturn:
    raise jinja2.exceptions.TemplateError(message)


def _strftime_now(format: str) -> str:
    return PROBE_NOW.strftime(format)


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[_GenerationTag, jinja2.ext.loopcontrols],
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


def render(
    template: str,
    *,
    bos_token: str,
    eos_token: str,
    add_generation_prompt: bool = True,
    source: str = "chat template",
    messages: tuple[dict[str, str], ...] = PROBE_CONVERSATION,
) -> str:
    """:data:`PROBE_CONVERSATION` rendered by ``template``; ChatTemplateError on failure.

    ``source`` names the template in error messages.
    """
    try:
        compiled = _environment().from_string(template)
    except jinja2.TemplateSyntaxError as exc:
        raise ChatTemplateError(f"{source}: line {exc.lineno}: {exc.message}") from None
    try:
        return compiled.render(
            messages=[dict(message) for message in messages],
            tools=None,
            documents=None,
            add_generation_prompt=add_generation_prompt,
            bos_token=bos_token,
            eos_token=eos_token,
        )
    except jinja2.exceptions.SecurityError as exc:
        line = _template_line(exc.__traceback__)
        raise ChatTemplateError(
            f"{source}: line {line}: blocked by the sandbox: {exc.message}",
            hint="chat templates may not reach Python internals; do not serve this template",
        ) from None
    except (jinja2.TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
        line = _template_line(exc.__traceback__)
        raise ChatTemplateError(f"{source}: line {line}: {exc}") from None


def _template_line(traceback: TracebackType | None) -> int | str:
    """The template line of the innermost template frame ('?' when there is none)."""
    line: int | str = "?"
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == "<template>":
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def _render_dir(model_dir: Path) -> tuple[tuple[str, ...], str] | None:
    """(each probe rendered, template source) for ``model_dir``, or None without one."""
    found = find_chat_template(model_dir)
    if found is None:
        return None
    template, where = found
    texts = tuple(
        render(
            template,
            bos_token=special_token(model_dir, "bos_token") or "",
            eos_token=special_token(model_dir, "eos_token") or "",
            source=str(model_dir / where),
            messages=messages,
        )
        for _, messages in PROBES
    )
    return texts, where


def compare_templates(expected_dir: Path, actual_dir: Path) -> Difference | None:
    """Where the two chat templates render the probe differently, or None.

    ``index`` is the first differing character offset; ``context`` holds the (shared)
    30 characters before it, ``expected``/``actual`` the 30 characters from it on.
    """
    expected, actual = _render_dir(expected_dir), _render_dir(actual_dir)
    if expected is None or actual is None:
        if expected is None and actual is None:
            return None
        return Difference(
            what="chat template",
            index=0,
            expected=expected[1] if expected else "(no chat template)",
            actual=actual[1] if actual else "(no chat template)",
            context="",
        )
    for (probe, _), left, right in zip(PROBES, expected[0], actual[0], strict=True):
        if left != right:
            return _text_difference(f"rendered chat template ({probe})", left, right)
    return None


def _text_difference(what: str, left: str, right: str) -> Difference:
    index = _common_prefix(left, right)
    return Difference(
        what=what,
        index=index,
        expected=left[index : index + _CONTEXT],
        actual=right[index : index + _CONTEXT],
        context=left[max(0, index - _CONTEXT) : index],
    )


def _common_prefix(left: str, right: str) -> int:
    for index, (a, b) in enumerate(zip(left, right, strict=False)):
        if a != b:
            return index
    return min(len(left), len(right))
