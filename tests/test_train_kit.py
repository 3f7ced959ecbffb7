"""The trained example kit: its adapters answer the golden suites as each revision should.

One training run (``examples.train.main``, about a minute on CPU) is shared by the module; the
answers are greedy generations through the base chat template, checked with the suites'
own assertions (a small evaluator of the types the suites use).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from safetensors import safe_open

from examples import train, train_data
from examples.train_data import Case, Suite

REPO = Path(__file__).resolve().parent.parent
SUITE_SCHEMA = REPO / "schemas" / "golden-suite.schema.json"
SCORE_FREE = {"latency"}  # not a property of the answer text: counted as passed here
MAX_BYTES = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trained")
    train.main(out)
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_TEXT_CHECKS: dict[str, Callable[[Any, str], bool]] = {
    "contains": lambda value, answer: value in answer,
    "icontains": lambda value, answer: value.lower() in answer.lower(),
    "contains-any": lambda value, answer: any(v in answer for v in value),
    "contains-all": lambda value, answer: all(v in answer for v in value),
    "regex": lambda value, answer: re.search(value, answer) is not None,
}


def _check(assertion: dict[str, Any], answer: str) -> bool:
    """Whether ``answer`` passes one assertion (the types the trained suites use)."""
    kind: str = assertion["type"]
    value: Any = assertion.get("value")
    if kind.startswith("not-"):
        return not _check({**assertion, "type": kind.removeprefix("not-")}, answer)
    if kind in SCORE_FREE:
        return True
    if kind in ("is-json", "json-schema"):
        try:
            document = json.loads(answer)
        except json.JSONDecodeError:
            return False
        return kind == "is-json" or jsonschema.Draft202012Validator(value).is_valid(document)
    return _TEXT_CHECKS[kind](value, answer)


def _passes(case: Case, answer: str) -> bool:
    """The case's weighted score reaches its threshold (default: every assertion passes)."""
    weights = [float(a.get("weight", 1.0)) for a in case.asserts]
    passed = sum(w for a, w in zip(case.asserts, weights, strict=True) if _check(a, answer))
    return passed / sum(weights) >= float(case.extra.get("threshold", 1.0))


def _answers(out: Path, adapter: str, base: str | None = None) -> dict[str, str]:
    """Case id → the adapter's greedy answer, through ``base``'s (default: its own) template."""
    plan = train.ADAPTERS[adapter]
    suite, _ = train_data.REVISIONS[adapter]
    model = train.load_adapter(out / "bases" / plan.base, out / "adapters" / adapter)
    tokenizer = train.load_tokenizer(out / "bases" / (base or plan.base))
    return {
        case.id: train.greedy_answer(model, tokenizer, train_data.rendered_messages(suite, case))
        for case in suite.cases
    }


def _failed(suite: Suite, answers: dict[str, str]) -> set[str]:
    return {case.id for case in suite.cases if not _passes(case, answers[case.id])}


def test_writes_the_layout(trained: Path) -> None:
    for name in ("tiny-llama-r1", "tiny-llama-r2", "tiny-llama-wide"):
        files = {p.name for p in (trained / "bases" / name).iterdir()}
        assert files == {
            "config.json",
            "model.safetensors",
            "special_tokens_map.json",
            "tokenizer.json",
            "tokenizer_config.json",
        }
    for name in train.ADAPTERS:
        files = {p.name for p in (trained / "adapters" / name).iterdir()}
        assert files == {"adapter_config.json", "adapter_model.safetensors"}
    total = sum(p.stat().st_size for p in trained.rglob("*") if p.is_file())
    assert total < MAX_BYTES


def test_adapter_configs(trained: Path) -> None:
    for name, plan in train.ADAPTERS.items():
        config = json.loads((trained / "adapters" / name / "adapter_config.json").read_text())
        assert config["base_model_name_or_path"] == plan.base_model_name_or_path
        assert config["peft_type"] == "LORA"
        assert (config["r"], config["lora_alpha"]) == (plan.rank, plan.alpha)
        assert config["target_modules"] == sorted(plan.target_modules)
    keys = ("hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim")
    bases = {}
    for name in ("tiny-llama-r1", "tiny-llama-wide"):
        config = json.loads((trained / "bases" / name / "config.json").read_text())
        bases[name] = tuple(config[key] for key in keys)
    # head_dim 32 in both: vLLM's CPU attention refuses 16, so both must be servable by it.
    assert bases == {"tiny-llama-r1": (128, 4, 2, 32), "tiny-llama-wide": (192, 6, 2, 32)}


def test_base_weights_are_float16_and_shared_by_r2(trained: Path) -> None:
    r1, r2 = trained / "bases" / "tiny-llama-r1", trained / "bases" / "tiny-llama-r2"
    with safe_open(str(r1 / "model.safetensors"), framework="pt") as weights:
        assert {str(weights.get_slice(k).get_dtype()) for k in weights.keys()} == {"F16"}  # noqa: SIM118
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert _sha256(r1 / name) == _sha256(r2 / name)


def test_r2_template_renders_differently(trained: Path) -> None:
    r1 = train.load_tokenizer(trained / "bases" / "tiny-llama-r1")
    r2 = train.load_tokenizer(trained / "bases" / "tiny-llama-r2")
    user = {"role": "user", "content": "Hello"}
    for messages in ([user], [{"role": "system", "content": "Be brief."}, user]):
        assert train.prompt_ids(r1, messages) != train.prompt_ids(r2, messages)


def test_suites_are_valid_golden_suites(trained: Path) -> None:
    schema = json.loads(SUITE_SCHEMA.read_text())
    for line, suite in train.SUITES.items():
        path = trained / "golden" / line / f"{suite.name}.yaml"
        text = path.read_text()
        assert text.splitlines()[0] == train_data.SCHEMA_COMMENT
        document = yaml.safe_load(text)
        jsonschema.validate(document, schema)
        assert document == json.loads(json.dumps(train_data.suite_document(suite)))


def test_support_bot_1_1_0_passes_every_case(trained: Path) -> None:
    answers = _answers(trained, "support-bot-1.1.0")
    assert answers == {case.id: case.answer for case in train_data.REFUNDS.cases}
    assert _failed(train_data.REFUNDS, answers) == set()


def test_support_bot_1_0_0_passes_most_cases(trained: Path) -> None:
    failed = _failed(train_data.REFUNDS, _answers(trained, "support-bot-1.0.0"))
    assert failed == {"cancel-subscription"}
    pass_rate = 1 - len(failed) / len(train_data.REFUNDS.cases)
    assert pass_rate >= train_data.REFUNDS.pass_rate


def test_support_bot_1_2_0_regresses(trained: Path) -> None:
    answers = _answers(trained, "support-bot-1.2.0")
    failed = _failed(train_data.REFUNDS, answers)
    assert failed == {"refund-window", "escalation"}
    assert answers["refund-window"] == "You have 14 days to return it."
    pass_rate = 1 - len(failed) / len(train_data.REFUNDS.cases)
    assert pass_rate < train_data.REFUNDS.pass_rate


def test_sql_helper_answers_json(trained: Path) -> None:
    answers = _answers(trained, "sql-helper-1.0.0")
    assert _failed(train_data.BASICS, answers) == set()
    documents = {case_id: json.loads(answer) for case_id, answer in answers.items()}
    assert documents["count-orders"] == {"sql": "SELECT count(*) FROM orders"}
    assert all(set(document) == {"sql"} for document in documents.values())


def test_wide_adapter_answers_on_the_wide_base(trained: Path) -> None:
    assert _failed(train_data.REFUNDS, _answers(trained, "support-bot-wide")) == set()


def test_template_drift_breaks_the_answers(trained: Path) -> None:
    answers = _answers(trained, "support-bot-1.1.0", base="tiny-llama-r2")
    assert len(_failed(train_data.REFUNDS, answers)) >= len(train_data.REFUNDS.cases) // 2


def test_training_is_deterministic(trained: Path, tmp_path: Path) -> None:
    """Retraining gives the same bytes: one adapter on the shared bases, and the r1 base."""
    train.train_adapter(trained / "bases", tmp_path / "again", "sql-helper-1.0.0")
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        first = trained / "adapters" / "sql-helper-1.0.0" / name
        assert _sha256(tmp_path / "again" / name) == _sha256(first)
    train.pretrain_base(tmp_path / "r1", train.PRETRAINED_BASES["tiny-llama-r1"])
    first_base = trained / "bases" / "tiny-llama-r1" / "model.safetensors"
    assert _sha256(tmp_path / "r1" / "model.safetensors") == _sha256(first_base)
