"""Chat templates: where they are found, their digest, rendering and comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapterctl.inspect.chat_template import (
    PROBE_CONVERSATION,
    ChatTemplateError,
    chat_template_digest,
    compare_templates,
    find_chat_template,
    render,
)
from adapterctl.inspect.tokenizer import Difference

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    " + message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}"
)
# The same template laid out on lines: trim_blocks and lstrip_blocks drop the layout.
LLAMA3_LAID_OUT = """{% set loop_messages = messages %}
{% for message in loop_messages %}
    {% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'
        + message['content'] | trim + '<|eot_id|>' %}
    {% if loop.index0 == 0 %}
        {% set content = bos_token + content %}
    {% endif %}
{{ content -}}
{% endfor %}
{% if add_generation_prompt %}
{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
{% endif %}
"""
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n'"
    " + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
CONFIG: dict[str, Any] = {
    "tokenizer_class": "PreTrainedTokenizerFast",
    "bos_token": "<|begin_of_text|>",
    "eos_token": "<|eot_id|>",
}


def write_model(
    directory: Path, config: dict[str, Any] | None = None, files: dict[str, str] | None = None
) -> Path:
    """A model directory with ``tokenizer_config.json`` (``config``) and other ``files``."""
    directory.mkdir()
    (directory / "tokenizer_config.json").write_text(json.dumps(config or CONFIG), "utf-8")
    for name, text in (files or {}).items():
        (directory / name).write_text(text, "utf-8")
    return directory


def with_template(template: object) -> dict[str, Any]:
    return CONFIG | {"chat_template": template}


def probe(template: str) -> str:
    return render(template, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>")


def test_found_in_the_tokenizer_config(tmp_path: Path) -> None:
    model = write_model(tmp_path / "m", with_template(LLAMA3))
    assert find_chat_template(model) == (LLAMA3, "tokenizer_config.json")


def test_default_of_named_templates(tmp_path: Path) -> None:
    named = [{"name": "tool_use", "template": CHATML}, {"name": "default", "template": LLAMA3}]
    model = write_model(tmp_path / "m", with_template(named))
    assert find_chat_template(model) == (LLAMA3, "tokenizer_config.json")


def test_named_templates_without_default(tmp_path: Path) -> None:
    model = write_model(tmp_path / "m", with_template([{"name": "tool_use", "template": "x"}]))
    with pytest.raises(ChatTemplateError, match="no template named 'default'"):
        find_chat_template(model)


@pytest.mark.parametrize(
    ("files", "where"),
    [
        ({"chat_template.jinja": CHATML}, "chat_template.jinja"),
        ({"chat_template.json": json.dumps({"chat_template": CHATML})}, "chat_template.json"),
        (
            {
                "chat_template.jinja": CHATML,
                "chat_template.json": json.dumps({"chat_template": LLAMA3}),
            },
            "chat_template.jinja",
        ),
    ],
)
def test_separate_files_win_over_the_config(
    tmp_path: Path, files: dict[str, str], where: str
) -> None:
    model = write_model(tmp_path / "m", with_template(LLAMA3), files)
    assert find_chat_template(model) == (CHATML, where)


def test_missing_template(tmp_path: Path) -> None:
    first = write_model(tmp_path / "a")
    second = write_model(tmp_path / "b")
    assert find_chat_template(first) is None
    assert compare_templates(first, second) is None
    third = write_model(tmp_path / "c", with_template(CHATML))
    assert compare_templates(first, third) == Difference(
        what="chat template",
        index=0,
        expected="(no chat template)",
        actual="tokenizer_config.json",
        context="",
    )


def test_digest_is_of_the_exact_text() -> None:
    digest = chat_template_digest(LLAMA3)
    assert digest.startswith("sha256:")
    assert len(digest) == len("sha256:") + 64
    assert chat_template_digest(LLAMA3) == digest
    assert chat_template_digest(LLAMA3 + "\n") != digest


def test_template_moved_to_its_own_file(tmp_path: Path) -> None:
    in_config = write_model(tmp_path / "a", with_template(LLAMA3))
    in_file = write_model(tmp_path / "b", CONFIG, {"chat_template.jinja": LLAMA3})
    found_config, found_file = find_chat_template(in_config), find_chat_template(in_file)
    assert found_config is not None
    assert found_file is not None
    assert chat_template_digest(found_file[0]) == chat_template_digest(found_config[0])
    assert probe(found_file[0]) == probe(found_config[0])
    assert compare_templates(in_config, in_file) is None


def test_layout_change_changes_the_digest_not_the_output(tmp_path: Path) -> None:
    expected = write_model(tmp_path / "a", with_template(LLAMA3))
    actual = write_model(tmp_path / "b", with_template(LLAMA3_LAID_OUT))
    assert chat_template_digest(LLAMA3_LAID_OUT) != chat_template_digest(LLAMA3)
    assert compare_templates(expected, actual) is None


def test_newline_after_an_expression_is_output(tmp_path: Path) -> None:
    # trim_blocks drops the newline after a block tag, not after {{ ... }}.
    naive = LLAMA3_LAID_OUT.replace(" -}}", " }}")
    expected = write_model(tmp_path / "a", with_template(LLAMA3))
    actual = write_model(tmp_path / "b", with_template(naive))
    assert compare_templates(expected, actual) == Difference(
        what="rendered chat template (with a system message)",
        index=120,
        expected="<|start_header_id|>user<|end_h",
        actual="\n<|start_header_id|>user<|end_",
        context="Réponds en français.<|eot_id|>",
    )


def test_llama3_render() -> None:
    system, user, assistant, last = (message["content"] for message in PROBE_CONVERSATION)
    assert probe(LLAMA3) == (
        f"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>"
        f"<|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|>"
        f"<|start_header_id|>assistant<|end_header_id|>\n\n{assistant}<|eot_id|>"
        f"<|start_header_id|>user<|end_header_id|>\n\n{last.strip()}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def test_probe_conversation_shape() -> None:
    roles = [message["role"] for message in PROBE_CONVERSATION]
    assert roles == ["system", "user", "assistant", "user"]
    assert any(not message["content"].isascii() for message in PROBE_CONVERSATION)


def test_changed_role_header_is_reported(tmp_path: Path) -> None:
    changed = LLAMA3.replace("'<|end_header_id|>\\n\\n'", "'<|end_header_id|>\\n'", 1)
    expected = write_model(tmp_path / "a", with_template(LLAMA3))
    actual = write_model(tmp_path / "b", with_template(changed))
    assert compare_templates(expected, actual) == Difference(
        what="rendered chat template (with a system message)",
        index=60,
        expected="\nYou are a concise assistant. ",
        actual="You are a concise assistant. R",
        context="r_id|>system<|end_header_id|>\n",
    )


def test_bos_and_eos_come_from_each_config(tmp_path: Path) -> None:
    template = "{{ bos_token }}|{{ eos_token }}"
    added = {"content": "<s>", "lstrip": False, "__type": "AddedToken"}
    expected = write_model(tmp_path / "a", with_template(template))
    actual = write_model(tmp_path / "b", with_template(template) | {"bos_token": added})
    assert compare_templates(expected, actual) == Difference(
        what="rendered chat template (with a system message)",
        index=1,
        expected="|begin_of_text|>|<|eot_id|>",
        actual="s>|<|eot_id|>",
        context="<",
    )


def test_transformers_globals_and_filters() -> None:
    assert probe("{{ strftime_now('%d %b %Y') }}") == "02 Jan 2024"
    assert "日本の首都" in probe("{{ messages | tojson }}")
    assert probe("{{ {'b': 1, 'a': 2} | tojson(indent=1, sort_keys=true) }}") == (
        '{\n "a": 2,\n "b": 1\n}'
    )
    assert probe("{% generation %}kept{% endgeneration %}") == "kept"
    assert probe(
        "{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}x{% endfor %}"
    )
    assert probe("{{ tools is none }}/{{ add_generation_prompt }}") == "True/True"


def test_sandbox_blocks_dunder_attributes() -> None:
    with pytest.raises(ChatTemplateError) as info:
        probe("{{ ''.__class__.__mro__ }}")
    assert info.value.message == (
        "chat template: line 1: blocked by the sandbox: "
        "access to attribute '__class__' of 'str' object is unsafe."
    )
    assert info.value.hint is not None


def test_sandbox_blocks_mutation() -> None:
    with pytest.raises(ChatTemplateError, match="blocked by the sandbox"):
        probe("{{ messages.append({'role': 'user'}) }}")


def test_raise_exception_names_the_line(tmp_path: Path) -> None:
    template = (
        "{% for m in messages %}\n{{ raise_exception('roles must alternate') }}\n{% endfor %}"
    )
    model = write_model(tmp_path / "m", with_template(template))
    with pytest.raises(ChatTemplateError) as info:
        compare_templates(model, model)
    assert info.value.message == (
        f"{model / 'tokenizer_config.json'}: line 2: roles must alternate"
    )


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(ChatTemplateError) as info:
        probe("ok\n{% if %}")
    assert info.value.message.startswith("chat template: line 2: ")


def test_python_error_in_a_template() -> None:
    with pytest.raises(ChatTemplateError, match="line 1: "):
        probe("{{ messages[0]['content'] + 1 }}")


def test_broken_template_files(tmp_path: Path) -> None:
    model = write_model(tmp_path / "m", CONFIG, {"chat_template.json": '{"chat_template": 3}'})
    with pytest.raises(ChatTemplateError, match="must be a string"):
        find_chat_template(model)
    (model / "chat_template.json").write_text("{oops", "utf-8")
    with pytest.raises(ChatTemplateError, match="not JSON"):
        find_chat_template(model)
    (model / "chat_template.jinja").write_bytes(b"\xff\xfe")
    with pytest.raises(ChatTemplateError, match="not UTF-8"):
        find_chat_template(model)
