"""``adapterctl export-promptfoo``: golden suites as a promptfooconfig, and what differs.

The mapping is checked exactly, assertion by assertion, with the warnings' text; the command
runs on a copy of the example registry and its output parses back as YAML.
(tests/test_promptfoo_run.py runs the export with the pinned promptfoo against the
reference node; these tests need neither.)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from adapterctl.cli.app import main
from adapterctl.errors import UsageError
from adapterctl.evals.jsregex import JsRegex, js_regex
from adapterctl.evals.promptfoo import (
    DEFAULT_MAX_TOKENS,
    Json,
    PromptfooConfig,
    to_promptfoo,
)
from adapterctl.evals.runner import EvalPlan
from adapterctl.model import AdapterLine, GoldenSuite
from adapterctl.semver import semver_key
from tests.conftest import REPO, copy_registry

URL = "http://node:8000/v1"
REVISIONS = ("support-bot@1.2.0", "support-bot@1.1.0")
LINE = AdapterLine.model_validate(
    yaml.safe_load((REPO / "adapters/support-bot/adapter.yaml").read_text())
)
SQL_SCHEMA = {
    "type": "object",
    "required": ["sql"],
    "properties": {"sql": {"type": "string", "pattern": "^SELECT "}},
}
PYTHON_WARNING = (
    "promptfoo calls check(output, context) with its own context (vars, prompt, test, provider,"
    " providerResponse): adapterctl's case, messages, finish_reason and latency_ms are missing,"
    " and a dict it returns needs 'pass', 'score' and 'reason'"
)


def _suite(*cases: dict[str, Any], **fields: Any) -> GoldenSuite:
    return GoldenSuite.model_validate(
        {"suite": "s", "description": "d", "cases": list(cases), **fields}
    )


def _case(*assertions: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "id": "c",
        "messages": [{"role": "user", "content": "q"}],
        "assert": list(assertions),
    } | fields


def _export(*suites: GoldenSuite, root: Path = REPO, config_dir: Path = REPO) -> PromptfooConfig:
    return to_promptfoo(
        LINE, suites, revisions=REVISIONS, base_url=URL, root=root, config_dir=config_dir
    )


def _items(config: Json, key: str) -> list[Json]:
    value = config[key]
    assert isinstance(value, list)
    return cast(list[Json], value)


def _convert(assertion: dict[str, Any], **case: Any) -> tuple[Json, list[str]]:
    """One assertion through the export: promptfoo's assertion and the warnings."""
    export = _export(_suite(_case(assertion, **case)))
    asserts = _items(_items(export.config, "tests")[0], "assert")
    return asserts[0], list(export.warnings)


def _provider(served: str, api: str = "chat", label: str = "", max_tokens: int = 64) -> Json:
    config: Json = {
        "apiBaseUrl": URL,
        "apiKeyEnvar": "ADAPTERCTL_API_KEY",
        "apiKeyRequired": False,
        "temperature": 0,
        "max_tokens": max_tokens,
    }
    if api == "completion":
        config["stop"] = []
    return {
        "id": f"openai:{api}:{served}",
        "label": label or served,
        "config": config,
        "env": {"OPENAI_API_KEY": "EMPTY"},
    }


# --- the configuration around the tests -------------------------------------------------------


def test_refunds_suite_maps_to_providers_prompt_and_tests() -> None:
    suite = GoldenSuite.model_validate(
        yaml.safe_load((REPO / "adapters/support-bot/golden/refunds.yaml").read_text())
    )
    export = _export(suite)
    config = export.config
    assert list(config) == ["description", "providers", "prompts", "evaluateOptions", "tests"]
    assert config["description"] == "adapterctl golden suites of support-bot: refunds"
    assert config["providers"] == [_provider(served) for served in REVISIONS]
    assert config["prompts"] == [{"label": "chat", "raw": "{{ messages | dump }}"}]
    assert config["evaluateOptions"] == {"cache": False}
    tests = _items(config, "tests")
    assert [test["description"] for test in tests] == [
        "refunds/refund-window",
        "refunds/refund-status-json",
        "refunds/escalation: Latency weighs half: a slow escalation passes, no escalation fails.",
        "refunds/double-charge",
        "refunds/cancel-subscription",
        "refunds/password-reset",
    ]
    assert tests[0] == {
        "description": "refunds/refund-window",
        "vars": {
            "messages": [
                {"role": "system", "content": "You are the support agent of the EU store."},
                {"role": "user", "content": "How long can I return an order?"},
            ]
        },
        "assert": [
            {"type": "icontains", "value": "30 days", "metric": "policy"},
            {"type": "not-icontains", "value": "as an AI", "weight": 0.5},
        ],
        "metadata": {"suite": "refunds", "case": "refund-window"},
    }
    assert tests[1]["options"] == {"max_tokens": 48}
    assert tests[1]["assert"] == [
        {"type": "is-json"},
        {"type": "contains-all", "value": ["order", "status"]},
    ]
    assert tests[2]["assert"] == [
        {"type": "contains-any", "value": ["agent", "colleague", "human"]},
        {"type": "latency", "threshold": 2000, "weight": 0.5},
    ]
    assert tests[2]["threshold"] == 0.5
    assert export.warnings == (
        "refunds: pass_rate 0.8 has no per-suite setting in promptfoo:"
        " PROMPTFOO_PASS_RATE_THRESHOLD=80 sets one for the whole run",
    )


def test_the_default_max_tokens_is_the_runners() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(EvalPlan)}
    assert fields["default_max_tokens"] == DEFAULT_MAX_TOKENS


@pytest.mark.parametrize(
    ("suites", "revisions", "message"),
    [
        (1, [], "an export needs at least one suite and one revision"),
        (0, ["a@1.0.0"], "an export needs at least one suite and one revision"),
        (1, ["a@1.0.0", "a@1.0.0"], "a revision is named twice: a@1.0.0, a@1.0.0"),
    ],
)
def test_an_export_needs_suites_and_distinct_revisions(
    suites: int, revisions: list[str], message: str
) -> None:
    given = [_suite(_case({"type": "is-json"}))] * suites
    with pytest.raises(UsageError) as raised:
        to_promptfoo(LINE, given, revisions=revisions, base_url=URL, root=REPO, config_dir=REPO)
    assert raised.value.message == message


def test_the_export_is_deterministic() -> None:
    suite = _suite(_case({"type": "contains", "value": "a", "metric": "m", "weight": 2}))
    assert _export(suite) == _export(suite)
    assert repr(_export(suite).config) == repr(_export(suite).config)


# --- assertions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assertion", "expected"),
    [
        ({"type": "equals", "value": "4"}, {"type": "equals", "value": "4"}),
        ({"type": "not-equals", "value": "4"}, {"type": "not-equals", "value": "4"}),
        ({"type": "contains", "value": "a"}, {"type": "contains", "value": "a"}),
        ({"type": "icontains", "value": "A"}, {"type": "icontains", "value": "A"}),
        (
            {"type": "not-contains-any", "value": ["a", "b"]},
            {"type": "not-contains-any", "value": ["a", "b"]},
        ),
        ({"type": "contains-all", "value": ["a"]}, {"type": "contains-all", "value": ["a"]}),
        ({"type": "starts-with", "value": "Hi"}, {"type": "starts-with", "value": "Hi"}),
        ({"type": "regex", "value": r"\d+"}, {"type": "regex", "value": r"\d+"}),
        ({"type": "not-regex", "value": "x"}, {"type": "not-regex", "value": "x"}),
        (
            {"type": "regex", "value": r"(?i)count\(\*\)"},
            {"type": "javascript", "value": r'new RegExp("count\\(\\*\\)", "i").test(output)'},
        ),
        (
            {"type": "not-regex", "value": r"(?ims)^a.b$"},
            {"type": "not-javascript", "value": 'new RegExp("^a.b$", "ims").test(output)'},
        ),
        ({"type": "is-json"}, {"type": "is-json"}),
        ({"type": "not-is-json"}, {"type": "not-is-json"}),
        ({"type": "is-json", "value": SQL_SCHEMA}, {"type": "is-json", "value": SQL_SCHEMA}),
        ({"type": "json-schema", "value": SQL_SCHEMA}, {"type": "is-json", "value": SQL_SCHEMA}),
        (
            {"type": "not-json-schema", "value": SQL_SCHEMA},
            {"type": "not-is-json", "value": SQL_SCHEMA},
        ),
        ({"type": "json-schema", "value": True}, {"type": "is-json", "value": {}}),
        ({"type": "json-schema", "value": False}, {"type": "is-json", "value": {"not": {}}}),
        ({"type": "levenshtein", "value": "abc"}, {"type": "levenshtein", "value": "abc"}),
        (
            {"type": "levenshtein", "value": "abc", "threshold": 2},
            {"type": "levenshtein", "value": "abc", "threshold": 2},
        ),
        ({"type": "word-count", "value": 12}, {"type": "word-count", "value": 12}),
        (
            {"type": "not-word-count", "value": {"min": 2, "max": 5}},
            {"type": "not-word-count", "value": {"min": 2, "max": 5}},
        ),
        ({"type": "finish-reason", "value": "stop"}, {"type": "finish-reason", "value": "stop"}),
        (
            {"type": "latency", "threshold": 1500.5},
            {"type": "latency", "threshold": 1500.5},
        ),
        (
            {"type": "contains", "value": "a", "weight": 2.5, "metric": "tone"},
            {"type": "contains", "value": "a", "weight": 2.5, "metric": "tone"},
        ),
        (
            {"type": "contains", "value": "a", "weight": 3.0},
            {"type": "contains", "value": "a", "weight": 3},
        ),
        (
            {"type": "contains", "value": "{{store}} is {% if x %}"},
            {"type": "contains", "value": "{% raw %}{{store}} is {% if x %}{% endraw %}"},
        ),
        (
            {"type": "equals", "value": "file://secret.txt"},
            {"type": "equals", "value": "{% raw %}file://secret.txt{% endraw %}"},
        ),
        (
            {"type": "contains-any", "value": ["plain", "{# note #}"]},
            {"type": "contains-any", "value": ["plain", "{% raw %}{# note #}{% endraw %}"]},
        ),
    ],
)
def test_assertion_maps_exactly(assertion: dict[str, Any], expected: Json) -> None:
    converted, warnings = _convert(assertion)
    assert converted == expected
    assert warnings == []


def test_case_threshold_is_the_tests_threshold() -> None:
    export = _export(_suite(_case({"type": "contains", "value": "a"}, threshold=0.75)))
    assert _items(export.config, "tests")[0]["threshold"] == 0.75


@pytest.mark.parametrize(
    ("assertion", "case", "warning"),
    [
        (
            {"type": "contains", "value": "a", "weight": 0},
            {},
            "s/c: assert[0] contains: weight 0: promptfoo counts the assertion as passed whatever"
            " the answer; adapterctl requires it to pass (the case has no threshold)",
        ),
        (
            {"type": "contains", "value": "a", "weight": 0},
            {"threshold": 0.5},
            "s/c: every weight is 0: promptfoo scores the case 0, adapterctl the mean",
        ),
        (
            {"type": "rouge-n", "value": "a b c", "metric": "rouge-2"},
            {},
            "s/c: assert[0] rouge-n: promptfoo scores ROUGE-1 F-measure, adapterctl ROUGE-2"
            " recall: the score and the verdict can differ",
        ),
        (
            {"type": "not-rouge-n", "value": "a b c", "threshold": 0.5},
            {},
            "s/c: assert[0] not-rouge-n: promptfoo scores ROUGE-1 F-measure, adapterctl ROUGE-1"
            " recall: the score and the verdict can differ",
        ),
        (
            {"type": "levenshtein", "value": "abc", "metric": "distance"},
            {},
            "s/c: assert[0] levenshtein: promptfoo scores levenshtein 1 or 0, adapterctl"
            " 1 - distance/length: the case score and the metric can differ (the assertion's"
            " verdict cannot)",
        ),
        (
            {"type": "json-schema", "value": {"prefixItems": [{"format": "email"}]}},
            {},
            "s/c: assert[0] json-schema: promptfoo validates with Ajv (JSON Schema draft-07,"
            " formats checked), adapterctl with draft 2020-12 (formats not checked): format,"
            " prefixItems may be judged differently",
        ),
        (
            {"type": "regex", "value": "(?x) a b (?P<w>c)(?i:d)"},
            {},
            "s/c: assert[0] regex: Python-only regular expression syntax '(?x)', '(?i:': promptfoo's"
            " JavaScript RegExp may reject the pattern or match differently",
        ),
        (
            {"type": "contains", "value": "{% raw %}x{% endraw %}"},
            {},
            "s/c: assert[0] contains: the value contains {% endraw %}: promptfoo renders it as a"
            " template",
        ),
    ],
)
def test_differences_are_warned_about(
    assertion: dict[str, Any], case: dict[str, Any], warning: str
) -> None:
    _, warnings = _convert(assertion, **case)
    assert warnings == [warning]


def test_levenshtein_without_threshold_or_metric_is_the_same() -> None:
    assert _convert({"type": "levenshtein", "value": "abc"})[1] == []


def test_a_schema_property_named_format_is_no_keyword() -> None:
    schema = {
        "type": "object",
        "properties": {"format": {"type": "string"}},
        "enum": [{"format": 1}],
    }
    assert _convert({"type": "json-schema", "value": schema})[1] == []


# --- python checks ---------------------------------------------------------------------------


def test_python_file_is_referenced_from_where_the_config_is_written(tmp_path: Path) -> None:
    root = tmp_path / "registry"
    (root / "checks").mkdir(parents=True)
    (root / "checks/answers.py").write_text("def check(output, context):\n    return True\n")
    suite = _suite(
        _case({"type": "not-python", "value": "checks/answers.py:check", "threshold": 0.5})
    )
    export = _export(suite, root=root, config_dir=tmp_path / "out")
    assert _items(_items(export.config, "tests")[0], "assert") == [
        {
            "type": "not-python",
            "value": "file://../registry/checks/answers.py:check",
            "threshold": 0.5,
        }
    ]
    assert export.warnings == (f"s/c: assert[0] not-python: {PYTHON_WARNING}",)


@pytest.mark.parametrize(
    ("files", "ref", "value"),
    [
        (["checks/answers.py"], "checks.answers:check", "file://checks/answers.py:check"),
        (["checks/__init__.py"], "checks:check", "file://checks/__init__.py:check"),
    ],
)
def test_python_module_references_become_files(
    tmp_path: Path, files: list[str], ref: str, value: str
) -> None:
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("def check(output, context):\n    return True\n")
    export = _export(
        _suite(_case({"type": "python", "value": ref})), root=tmp_path, config_dir=tmp_path
    )
    assert _items(_items(export.config, "tests")[0], "assert")[0]["value"] == value


# --- vars, prompts and max_tokens -------------------------------------------------------------


def test_placeholders_are_substituted_as_the_runner_does() -> None:
    case = _case(
        {"type": "is-json"},
        messages=[
            {"role": "system", "content": "Agent of {{store}} ({{ unknown }})."},
            {"role": "user", "content": "Order {{order}}: {% raw %} stays"},
        ],
        vars={"order": "1234", "store": "FR store"},
    )
    export = _export(_suite(case, vars={"store": "EU store", "tone": "dry"}))
    assert _items(export.config, "tests")[0]["vars"] == {
        "messages": [
            {"role": "system", "content": "Agent of FR store ({{ unknown }})."},
            {"role": "user", "content": "Order 1234: {% raw %} stays"},
        ],
        "order": "1234",
        "store": "FR store",
    }


def test_vars_promptfoo_would_misread_are_not_exported() -> None:
    case = _case({"type": "is-json"}, vars={"messages": "m", "doc": "file://x.txt", "ok": "1"})
    export = _export(_suite(case))
    test = _items(export.config, "tests")[0]
    assert test["vars"] == {"messages": [{"role": "user", "content": "q"}], "ok": "1"}
    assert export.warnings == (
        "s/c: var 'messages' is not exported: the name holds the messages sent",
        "s/c: var 'doc' is not exported: promptfoo would load file://x.txt",
    )


def test_completion_cases_get_completion_providers_per_max_tokens() -> None:
    suite = _suite(
        _case({"type": "is-json"}, id="chat", max_tokens=16),
        {
            "id": "long",
            "prompt": "Q: {{x}}? A:",
            "vars": {"x": "y"},
            "assert": [{"type": "is-json"}],
        },
        {"id": "short", "prompt": "Q", "max_tokens": 8, "assert": [{"type": "is-json"}]},
    )
    config = _export(suite).config
    assert config["providers"] == [
        *(_provider(served) for served in REVISIONS),
        *(_provider(served, "completion", f"{served} completion") for served in REVISIONS),
        *(
            _provider(served, "completion", f"{served} completion max_tokens=8", max_tokens=8)
            for served in REVISIONS
        ),
    ]
    assert config["prompts"] == [
        {"label": "chat", "raw": "{{ messages | dump }}"},
        {"label": "completion", "raw": "{{ prompt.text }}"},
    ]
    chat, long, short = _items(config, "tests")
    assert (chat["providers"], chat["prompts"], chat["options"]) == (
        list(REVISIONS),
        ["chat"],
        {"max_tokens": 16},
    )
    assert long["vars"] == {"prompt": {"text": "Q: y? A:"}, "x": "y"}
    assert (long["providers"], long["prompts"], "options" in long) == (
        [f"{served} completion" for served in REVISIONS],
        ["completion"],
        False,
    )
    assert short["providers"] == [f"{served} completion max_tokens=8" for served in REVISIONS]


# --- regular expressions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\d+ days", JsRegex(r"\d+ days", "", ())),
        ("(?i)refund", JsRegex("refund", "i", ())),
        ("(?s)(?i)a.b", JsRegex("a.b", "is", ())),
        ("(?u)a", JsRegex("a", "", ())),
        ("done$", JsRegex("done(?=\\n?$)", "", ())),
        ("(?m)^done$", JsRegex("^done$", "m", ())),
        ("[$]", JsRegex("[$]", "", ())),
        (r"\$5", JsRegex(r"\$5", "", ())),
        (r"\Aa\Z", JsRegex(r"(?<![\s\S])a(?![\s\S])", "", ())),
        (r"(?P<word>\w+) (?P=word)", JsRegex(r"(?<word>\w+) \k<word>", "", ())),
        ("[]a]", JsRegex(r"[\]a]", "", ())),
        ("[^]a]x", JsRegex(r"[^\]a]x", "", ())),
        (r"[\]]\A", JsRegex(r"[\]](?<![\s\S])", "", ())),
        ("(?a)x(?#c)(?>y)", JsRegex("x(?#c)(?>y)", "", ("(?a)", "(?#", "(?>"))),
    ],
)
def test_python_patterns_become_javascript(pattern: str, expected: JsRegex) -> None:
    assert js_regex(pattern) == expected


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return copy_registry(tmp_path / "registry")


def test_command_writes_promptfooconfig_yaml(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["export-promptfoo", "support-bot", "--endpoint", URL, "--root", str(root)])
    out, err = capsys.readouterr()
    assert code == 0
    assert out == (
        "wrote promptfooconfig.yaml: 6 cases × 1 revision;"
        " run it with: npx promptfoo@0.123.1 eval -c promptfooconfig.yaml (Node.js ≥ 22.22)\n"
    )
    assert err == (
        "adapterctl: warning: refunds: pass_rate 0.8 has no per-suite setting in promptfoo:"
        " PROMPTFOO_PASS_RATE_THRESHOLD=80 sets one for the whole run\n"
    )
    text = (tmp_path / "promptfooconfig.yaml").read_text()
    assert text.splitlines()[:2] == [
        "# Generated by adapterctl export-promptfoo from adapters/support-bot/golden/refunds.yaml;"
        " export again rather than edit.",
        "# yaml-language-server: $schema=https://promptfoo.dev/config-schema.json",
    ]
    config = yaml.safe_load(text)
    assert config["providers"] == [_provider("support-bot@1.2.0")]  # the newest revision
    assert len(config["tests"]) == 6
    assert not list(tmp_path.glob(".promptfooconfig.yaml.*"))


def test_command_takes_name_at_version_and_revisions_to_stdout(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["sql-helper@1.1.0", "--revision", "1.0.0", "--revision", "1.1.0", "-o", "-"]
    args += ["--api-key-env", "NODE_KEY"]
    code = main(["export-promptfoo", *args, "--root", str(root)])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    config = yaml.safe_load(out)
    assert [p["label"] for p in config["providers"]] == ["sql-helper@1.1.0", "sql-helper@1.0.0"]
    assert config["providers"][0]["config"] == {
        "apiBaseUrl": "http://localhost:8000/v1",
        "apiKeyEnvar": "NODE_KEY",
        "apiKeyRequired": False,
        "temperature": 0,
        "max_tokens": 64,
    }
    assert config["tests"][0]["assert"][1] == {
        "type": "javascript",
        "value": 'new RegExp("count\\\\(\\\\*\\\\)", "i").test(output)',
    }


def test_command_rewrites_python_paths_for_the_output_folder(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (root / "checks").mkdir()
    (root / "checks/tone.py").write_text("def polite(output, context):\n    return True\n")
    suite = root / "adapters/support-bot/golden/tone.yaml"
    suite.write_text(
        "suite: tone\ndescription: Tone.\ncases:\n  - id: polite\n    prompt: Hi\n"
        "    assert:\n      - {type: python, value: checks/tone.py:polite}\n"
    )
    output = tmp_path / "evals" / "pf.yaml"
    output.parent.mkdir()
    args = ["support-bot", "--suite", "tone", "--revision", "1.1.0", "-o", str(output)]
    assert main(["export-promptfoo", *args, "--root", str(root)]) == 0
    config = yaml.safe_load(output.read_text())
    assert config["tests"][0]["assert"] == [
        {"type": "python", "value": "file://../registry/checks/tone.py:polite"}
    ]
    assert "promptfoo calls polite(output, context)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["nope"],
            2,
            "adapterctl: error: no adapter line nope: adapters/nope/adapter.yaml does not exist\n",
        ),
        (
            ["support-bot", "--suite", "shipping"],
            2,
            "adapterctl: error: no suite shipping in support-bot:"
            " adapters/support-bot/golden/shipping.yaml does not exist\n",
        ),
        (
            ["@1.0.0"],
            2,
            "adapterctl: error: @1.0.0: expected NAME or NAME@VERSION, e.g. support-bot@1.2.0\n",
        ),
        (
            ["support-bot@9.9.9"],
            2,
            "adapterctl: error: no revision support-bot@9.9.9:"
            " adapters/support-bot/9.9.9.yaml does not exist\n",
        ),
        (
            ["support-bot", "--revision", "1.0.0", "-o", "/nonexistent/dir/pf.yaml"],
            2,
            "adapterctl: error: cannot write /nonexistent/dir/pf.yaml: No such file or directory\n",
        ),
    ],
)
def test_bad_input_is_a_usage_error(
    root: Path, args: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export-promptfoo", *args, "--root", str(root)]) == code
    assert capsys.readouterr().err == message


BROKEN_YAML = "did not find expected ',' or ']' (while parsing a flow sequence at line 1)"


@pytest.mark.parametrize(
    ("path", "args"),
    [
        ("adapters/support-bot/golden/refunds.yaml", []),
        ("adapters/support-bot/adapter.yaml", []),
        ("adapters/support-bot/1.1.0.yaml", ["--revision", "1.1.0"]),
    ],
)
def test_an_invalid_file_is_reported_at_its_line(
    root: Path, path: str, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    (root / path).write_text("name: [broken\n")
    assert main(["export-promptfoo", "support-bot", *args, "-o", "-", "--root", str(root)]) == 1
    assert capsys.readouterr().err == (
        f"adapterctl: error: {path} has problems:\n  {path}:1  {BROKEN_YAML}\n"
    )


def test_an_invalid_field_is_reported_with_its_path(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = "adapters/support-bot/adapter.yaml"
    line = root / path
    line.write_text(line.read_text().replace("golden_suites: [refunds]", "golden_suites: 7"))
    assert main(["export-promptfoo", "support-bot", "-o", "-", "--root", str(root)]) == 1
    assert capsys.readouterr().err == (
        f"adapterctl: error: {path} has problems:\n"
        f"  {path}:6 $.golden_suites  expected a list, got 7 (a number)\n"
    )


def test_a_line_without_suites_needs_one(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = root / "adapters/support-bot/adapter.yaml"
    line.write_text(line.read_text().replace("golden_suites: [refunds]\n", ""))
    assert main(["export-promptfoo", "support-bot", "-o", "-", "--root", str(root)]) == 2
    assert capsys.readouterr().err == (
        "adapterctl: error: adapter line support-bot names no golden_suites in"
        " adapters/support-bot/adapter.yaml\n  → pass --suite SUITE\n"
    )


def test_semantic_versions_sort_by_precedence() -> None:
    versions = ["1.10.0", "1.2.0", "1.2.0-rc.1", "1.2.0-beta", "1.2.0-rc.10", "1.2.0-rc.2", "0.9.9"]
    assert sorted(versions, key=semver_key) == [
        "0.9.9",
        "1.2.0-beta",
        "1.2.0-rc.1",
        "1.2.0-rc.2",
        "1.2.0-rc.10",
        "1.2.0",
        "1.10.0",
    ]
