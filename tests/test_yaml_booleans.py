"""YAML 1.1's booleans (``yes``/``no``/``on``/``off``) are refused where they are written:
YAML 1.2 readers take them for strings, so a registry file's meaning would depend on the
tool reading it."""

from __future__ import annotations

import pytest

from adapterctl.yamlio import YamlError, load


@pytest.mark.parametrize(
    ("written", "meaning"),
    [("yes", "true"), ("Yes", "true"), ("ON", "true"), ("on", "true"),
     ("no", "false"), ("No", "false"), ("OFF", "false"), ("off", "false")],
)  # fmt: skip
def test_a_yaml_1_1_boolean_is_refused_at_its_line(written: str, meaning: str) -> None:
    with pytest.raises(YamlError) as raised:
        load(f"name: staging\npromotion:\n  require_signed_commits: {written}\n")
    error = raised.value
    assert (error.rule, error.line, error.column) == ("yaml/boolean", 3, 27)
    assert error.message == (
        f"'{written}' is {meaning} to YAML 1.1 readers and the string '{written}' to YAML 1.2 readers"
    )
    assert error.hint == f'write {meaning} for the boolean, or quote it ("{written}") for the text'


@pytest.mark.parametrize(
    ("text", "value"),
    [("flag: true", True), ("flag: False", False), ('flag: "no"', "no"), ("flag: 'on'", "on"),
     ("flag: n", "n"), ("flag: y", "y"), ("tenants: [acme, 'off']", ["acme", "off"])],
)  # fmt: skip
def test_true_false_and_quoted_text_are_read_as_written(text: str, value: object) -> None:
    data, _ = load(text + "\n")
    assert isinstance(data, dict)
    assert next(iter(data.values())) == value
