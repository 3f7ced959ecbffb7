"""Golden suites as an equivalent promptfoo configuration, and a warning wherever it differs.

How promptfoo (0.121, read from its source and checked with ``promptfoo eval``) is made to
ask what ``adapterctl eval`` asks:

- ``{{var}}`` placeholders are substituted here, with the runner's own ``render``; each test
  carries the messages as the object var ``messages`` and the one chat prompt is
  ``{{ messages | dump }}``: promptfoo renders it to a JSON array of messages and sends that
  as the conversation (its "chat threads" form). promptfoo renders string vars and prompts
  with Nunjucks (an unknown name becomes empty, ``{% %}`` is code) but never the inside of
  an object var, so every message arrives byte for byte.
- A completion case is the object var ``prompt: {text}``, rendered by ``{{ prompt.text }}``
  for an ``openai:completion`` provider.
- Per-case ``max_tokens``: test ``options`` reach the chat provider's request (they are
  merged into the prompt config it reads); the completion provider reads only its own
  config, so a completion case with its own ``max_tokens`` gets a provider of its own.
- Assertion values are Nunjucks templates too (and ``file://`` loads a file): a value that
  would be read so is wrapped in ``{% raw %}``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from adapterctl.errors import UsageError
from adapterctl.evals.jsregex import js_regex
from adapterctl.evals.templating import render
from adapterctl.evals.textmetrics import number
from adapterctl.model import AdapterLine, GoldenSuite
from adapterctl.model.golden import Assertion, Case
from adapterctl.nodeclient import NO_KEY

Json = dict[str, object]
TESTED_VERSION = "0.123.1"
"""The promptfoo the export is tested with (tests/test_promptfoo_run.py, make promptfoo)."""
TESTED_NODE = "22.22"
"""The oldest Node.js that promptfoo runs on (its package.json engines: node >=22.22.0)."""
DEFAULT_MAX_TOKENS = 64
"""For cases without ``max_tokens``: the runner's default (``EvalPlan.default_max_tokens``)."""
API_KEY_ENV = "ADAPTERCTL_API_KEY"
CHAT_PROMPT: Json = {"label": "chat", "raw": "{{ messages | dump }}"}
COMPLETION_PROMPT: Json = {"label": "completion", "raw": "{{ prompt.text }}"}
_TEMPLATE = re.compile(r"\{[{%#]")
_ENDRAW = re.compile(r"\{%-?\s*endraw")
_ROUGE_METRIC = re.compile(r"^rouge-?([1-9])$")
_DRAFT_2020 = frozenset(
    {"$dynamicAnchor", "$dynamicRef", "dependentRequired", "dependentSchemas", "maxContains"}
    | {"minContains", "prefixItems", "unevaluatedItems", "unevaluatedProperties"}
)
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})
_SUBSCHEMAS = frozenset(
    {"items", "prefixItems", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "contains"}
    | {"additionalProperties", "additionalItems", "propertyNames", "dependentSchemas"}
    | {"unevaluatedItems", "unevaluatedProperties"}
)


@dataclass(frozen=True, slots=True)
class PromptfooConfig:
    """A promptfooconfig as plain data, and what promptfoo will judge differently."""

    config: Json
    warnings: tuple[str, ...]


def to_promptfoo(
    line: AdapterLine,
    suites: Sequence[GoldenSuite],
    *,
    revisions: Sequence[str],
    base_url: str,
    root: Path,
    config_dir: Path,
    api_key_env: str = API_KEY_ENV,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
) -> PromptfooConfig:
    """The promptfooconfig that runs ``suites`` against ``revisions`` (served model names).

    ``root`` is the registry root (``python`` checks live there); ``config_dir`` is where the
    config will be written, to which their ``file://`` references are made relative.
    """
    if not revisions or not suites:
        raise UsageError("an export needs at least one suite and one revision")
    if len(set(revisions)) != len(revisions):
        raise UsageError(f"a revision is named twice: {', '.join(revisions)}")
    ways = _ways(suites, default_max_tokens)
    exporter = _Exporter(root.resolve(), config_dir.resolve(), ways, tuple(revisions))
    tests = [exporter.test(suite, case) for suite in suites for case in suite.cases]
    for suite in suites:
        exporter.suite_warnings(suite)
    config: Json = {
        "description": f"adapterctl golden suites of {line.name}: "
        + ", ".join(suite.suite for suite in suites),
        "providers": [
            _provider(way, served, base_url, api_key_env) for way in ways for served in revisions
        ],
        "prompts": [dict(way.prompt) for way in ways if way.prompt_first],
        "evaluateOptions": {"cache": False},
        "tests": tests,
    }
    return PromptfooConfig(config, tuple(exporter.warnings))


@dataclass(frozen=True, slots=True)
class _Way:
    """How a case is asked: the API (chat or completion) and, for completion, max_tokens."""

    api: str
    max_tokens: int
    default: bool
    prompt_first: bool = False
    """Whether this is the first way with its prompt (each prompt is listed once)."""

    @property
    def prompt(self) -> Json:
        return CHAT_PROMPT if self.api == "chat" else COMPLETION_PROMPT

    def label(self, served: str) -> str:
        if self.api == "chat":
            return served
        return f"{served} completion" + ("" if self.default else f" max_tokens={self.max_tokens}")


def _ways(suites: Sequence[GoldenSuite], default_max_tokens: int) -> tuple[_Way, ...]:
    """The ways the suites' cases are asked: chat first, then completion by max_tokens."""
    chat, tokens = False, set()
    for case in (case for suite in suites for case in suite.cases):
        if case.messages is not None:
            chat = True
        else:
            tokens.add(case.max_tokens or default_max_tokens)
    ways = [_Way("chat", default_max_tokens, True, True)] if chat else []
    order = sorted(tokens, key=lambda n: (n != default_max_tokens, n))
    ways += [_Way("completion", n, n == default_max_tokens, i == 0) for i, n in enumerate(order)]
    return tuple(ways)


@dataclass
class _Exporter:
    root: Path
    config_dir: Path
    ways: tuple[_Way, ...]
    revisions: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(f"{where}: {message}")

    def way(self, case: Case) -> _Way:
        if case.messages is not None:
            return self.ways[0]
        tokens = case.max_tokens
        completion = (w for w in self.ways if w.api == "completion")
        return next(w for w in completion if (w.max_tokens == tokens if tokens else w.default))

    # --- tests ------------------------------------------------------------------------------

    def test(self, suite: GoldenSuite, case: Case) -> Json:
        where = f"{suite.suite}/{case.id}"
        description = where if case.description is None else f"{where}: {case.description}"
        test: Json = {"description": description, "vars": self.variables(where, suite, case)}
        way = self.way(case)
        if len(self.ways) > 1:
            test["providers"] = [way.label(served) for served in self.revisions]
        if len({w.api for w in self.ways}) > 1:
            test["prompts"] = [way.prompt["label"]]
        if case.messages is not None and case.max_tokens is not None:
            test["options"] = {"max_tokens": case.max_tokens}
        test["assert"] = [
            self.assertion(f"{where}: assert[{i}] {a.type}", a, case)
            for i, a in enumerate(case.assert_)
        ]
        if case.threshold is not None:
            test["threshold"] = _plain(case.threshold)
            if all(a.weight == 0 for a in case.assert_):
                self.warn(
                    where, "every weight is 0: promptfoo scores the case 0, adapterctl the mean"
                )
        test["metadata"] = {"suite": suite.suite, "case": case.id}
        return test

    def variables(self, where: str, suite: GoldenSuite, case: Case) -> Json:
        """The rendered messages (or prompt), then the case's own vars, as checks see them."""
        values = {**suite.vars, **case.vars}
        payload: object
        if case.messages is not None:
            key = "messages"
            payload = [
                {"role": m.role, "content": render(m.content, values)} for m in case.messages
            ]
        else:
            key, payload = "prompt", {"text": render(case.prompt or "", values)}
        out: Json = {key: payload}
        for name, value in case.vars.items():
            if name == key:
                self.warn(where, f"var '{name}' is not exported: the name holds the {key} sent")
            elif value.startswith(("file://", "package:")):
                self.warn(where, f"var '{name}' is not exported: promptfoo would load {value}")
            else:
                out[name] = value
        return out

    # --- assertions ---------------------------------------------------------------------------

    def assertion(self, where: str, assertion: Assertion, case: Case) -> Json:
        kind, value = self.mapped(where, assertion)
        prefix = "not-" if assertion.type.startswith("not-") else ""
        threshold, weight = assertion.threshold, assertion.weight
        optional = {
            "value": value,
            "threshold": None if threshold is None else _plain(threshold),
            "weight": None if weight == 1 else _plain(weight),
            "metric": assertion.metric,
        }
        self.semantics(where, assertion, case)
        return {"type": prefix + kind} | {k: v for k, v in optional.items() if v is not None}

    def mapped(self, where: str, assertion: Assertion) -> tuple[str, object]:
        """promptfoo's type (without ``not-``) and value for ``assertion``."""
        kind, value = assertion.base_type, assertion.value
        if kind in ("is-json", "json-schema"):
            return "is-json", self.schema(where, value)
        if kind == "regex" and isinstance(value, str):
            return self.regex(where, value)
        if kind == "python" and isinstance(value, str):
            return "python", self.python(where, value)
        if isinstance(value, str):
            return kind, self.literal(where, value)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return kind, [self.literal(where, str(v)) for v in value]
        return kind, value

    def literal(self, where: str, text: str) -> str:
        """``text`` as a Nunjucks template that renders to itself."""
        if not (_TEMPLATE.search(text) or text.startswith(("file://", "package:"))):
            return text
        if _ENDRAW.search(text):
            self.warn(where, "the value contains {% endraw %}: promptfoo renders it as a template")
            return text
        return "{% raw %}" + text + "{% endraw %}"

    def regex(self, where: str, pattern: str) -> tuple[str, str]:
        converted = js_regex(pattern)
        if converted.problems:
            syntax = ", ".join(f"'{problem}'" for problem in converted.problems)
            self.warn(
                where,
                f"Python-only regular expression syntax {syntax}: promptfoo's JavaScript RegExp"
                " may reject the pattern or match differently",
            )
        if not converted.flags:
            return "regex", self.literal(where, converted.source)
        code = f"new RegExp({json.dumps(converted.source)}, {json.dumps(converted.flags)})"
        return "javascript", self.literal(where, f"{code}.test(output)")

    def python(self, where: str, ref: str) -> str:
        path, _, function = ref.rpartition(":")
        if not path.endswith(".py"):
            module = path.replace(".", "/")
            init = f"{module}/__init__.py"
            path = init if (self.root / init).is_file() else f"{module}.py"
        target = Path(os.path.relpath(self.root / path, self.config_dir)).as_posix()
        self.warn(
            where,
            f"promptfoo calls {function}(output, context) with its own context (vars, prompt,"
            " test, provider, providerResponse): adapterctl's case, messages, finish_reason and"
            " latency_ms are missing, and a dict it returns needs 'pass', 'score' and 'reason'",
        )
        return f"file://{target}:{function}"

    def schema(self, where: str, schema: object) -> object:
        if isinstance(schema, bool):
            return {} if schema else {"not": {}}
        found = _keywords(schema)
        differing = sorted((found & _DRAFT_2020) | (found & {"$schema", "format"}))
        if differing:
            self.warn(
                where,
                "promptfoo validates with Ajv (JSON Schema draft-07, formats checked), adapterctl"
                f" with draft 2020-12 (formats not checked): {', '.join(differing)} may be judged"
                " differently",
            )
        return schema

    def semantics(self, where: str, assertion: Assertion, case: Case) -> None:
        """Warn where promptfoo scores or passes the assertion differently."""
        kind = assertion.base_type
        if assertion.weight == 0 and case.threshold is None:
            self.warn(
                where,
                "weight 0: promptfoo counts the assertion as passed whatever the answer;"
                " adapterctl requires it to pass (the case has no threshold)",
            )
        if kind == "rouge-n":
            found = _ROUGE_METRIC.match(assertion.metric or "")
            n = found.group(1) if found else "1"
            self.warn(
                where,
                f"promptfoo scores ROUGE-1 F-measure, adapterctl ROUGE-{n} recall:"
                " the score and the verdict can differ",
            )
        if kind == "levenshtein" and (case.threshold is not None or assertion.metric):
            self.warn(
                where,
                "promptfoo scores levenshtein 1 or 0, adapterctl 1 - distance/length:"
                " the case score and the metric can differ (the assertion's verdict cannot)",
            )

    def suite_warnings(self, suite: GoldenSuite) -> None:
        rate = suite.thresholds.pass_rate
        if rate < 1:
            self.warn(
                suite.suite,
                f"pass_rate {number(rate)} has no per-suite setting in promptfoo:"
                f" PROMPTFOO_PASS_RATE_THRESHOLD={number(rate * 100)} sets one for the whole run",
            )


def _provider(way: _Way, served: str, base_url: str, api_key_env: str) -> Json:
    """An OpenAI-compatible provider for one served name; never sends OPENAI_API_KEY.

    promptfoo 0.123 reads the key from ``apiKeyEnvar`` alone (no fallback to
    OPENAI_API_KEY) and refuses to start when it is unset unless ``apiKeyRequired`` is false;
    without a key it sends no Authorization header, as a node without ``--api-key`` expects.
    """
    config: Json = {
        "apiBaseUrl": base_url,
        "apiKeyEnvar": api_key_env,
        "apiKeyRequired": False,  # a node without a key is asked without one
        "temperature": 0,
        "max_tokens": way.max_tokens,
    }
    if way.api == "completion":
        config["stop"] = []  # promptfoo's default stops at <|im_end|> and <|endoftext|>
    return {
        "id": f"openai:{way.api}:{served}",
        "label": way.label(served),
        "config": config,
        "env": {"OPENAI_API_KEY": NO_KEY},  # for versions that fall back to OPENAI_API_KEY
    }


def _plain(value: float) -> float | int:
    """2000.0 as 2000, so that the YAML reads as the suite was written."""
    return int(value) if float(value).is_integer() else value


def _keywords(schema: object) -> set[str]:
    """Every keyword used in a JSON schema, its subschemas included."""
    if isinstance(schema, list):
        return {key for item in schema for key in _keywords(item)}
    if not isinstance(schema, dict):
        return set()
    found = {str(key) for key in schema}
    for key, value in schema.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            found |= {k for sub in value.values() for k in _keywords(sub)}
        elif key in _SUBSCHEMAS:
            found |= _keywords(value)
    return found
