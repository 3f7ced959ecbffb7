"""The reference node's engine on real tiny models: generation, LoRA selection, and the
vLLM load/unload errors (exact texts, statuses and types)."""

from __future__ import annotations

import dataclasses
import re
import shutil
import threading
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from adapterctl.serve.engine import Chunk, Engine, LoraError, SamplingParams
from examples.kit import AdapterSpec, BaseSpec, make_adapter, make_base
from examples.kit_tokenizer import DRIFTED_CHAT_TEMPLATE

BASE = BaseSpec(arch="llama")
WIDE = BaseSpec(arch="llama", hidden_size=96)
GREEDY = SamplingParams(max_tokens=8, temperature=0)
#: A large alpha makes the kit's small random LoRA weights change the greedy output.
ADAPTERS: dict[str, tuple[BaseSpec, AdapterSpec]] = {
    "one": (BASE, AdapterSpec(seed=11, alpha=128)),
    "two": (BASE, AdapterSpec(seed=12, alpha=128, target_modules=("q_proj", "k_proj", "v_proj"))),
    "other-name": (BASE, AdapterSpec(seed=13, alpha=128, base_model_name_or_path="another-model")),
    "wide": (WIDE, AdapterSpec(seed=14, base_model_name_or_path="tiny-llama-wide")),
    "rank32": (BASE, AdapterSpec(rank=32)),
    "dora": (BASE, AdapterSpec(use_dora=True)),
    "bias": (BASE, AdapterSpec(bias="all")),
    "saves": (BASE, AdapterSpec(modules_to_save=("lm_head",))),
    "everything": (BASE, AdapterSpec(rank=32, use_dora=True, bias="lora_only")),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("serve-models")
    make_base(root / "base", BASE)
    make_base(root / "drifted", BaseSpec(arch="llama", chat_template=DRIFTED_CHAT_TEMPLATE))
    for name, (base, spec) in ADAPTERS.items():
        make_adapter(root / "adapters" / name, base, spec)
    corrupt = root / "adapters" / "corrupt"
    shutil.copytree(root / "adapters" / "one", corrupt)
    (corrupt / "adapter_model.safetensors").write_bytes(b"not a safetensors file at all")
    no_tensors = root / "adapters" / "no-tensors"
    no_tensors.mkdir()
    shutil.copy(root / "adapters" / "one" / "adapter_config.json", no_tensors)
    (root / "adapters" / "empty").mkdir()
    with_tokenizer = root / "adapters" / "with-tokenizer"
    shutil.copytree(root / "adapters" / "one", with_tokenizer)
    for file in (root / "drifted").glob("*token*"):
        shutil.copy(file, with_tokenizer)
    return root


@pytest.fixture
def engine(models: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return Engine(
        models / "base",
        served_model_name="tiny-llama",
        max_loras=4,
        allowed_lora_dir=models / "adapters",
    )


def adapter(models: Path, name: str) -> str:
    return str(models / "adapters" / name)


def prompt(engine: Engine) -> list[int]:
    chat = engine.render_chat([{"role": "user", "content": "Where is my order?"}])
    return engine.encode(chat, add_special_tokens=False)


def run(engine: Engine, params: SamplingParams = GREEDY, lora: str | None = None) -> list[Chunk]:
    return list(engine.generate(prompt(engine), params, lora))


def text_of(chunks: list[Chunk]) -> str:
    return "".join(chunk.text for chunk in chunks)


def ids_of(chunks: list[Chunk]) -> list[int]:
    return [token for chunk in chunks for token in chunk.token_ids]


# --- the base model --------------------------------------------------------------------------


def test_identity(models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    engine = Engine(models / "base")
    assert engine.base_name == str(models / "base")
    assert engine.base_path == str(models / "base")
    assert engine.max_model_len == BASE.max_position_embeddings
    assert engine.loras() == {}


def test_served_model_name(engine: Engine) -> None:
    assert engine.base_name == "tiny-llama"


def test_greedy_is_deterministic(engine: Engine) -> None:
    first, second = run(engine), run(engine)
    assert first == second
    assert len(ids_of(first)) == GREEDY.max_tokens


def test_seeded_sampling_is_reproducible(engine: Engine) -> None:
    params = SamplingParams(max_tokens=12, temperature=1.0, seed=7)
    assert ids_of(run(engine, params)) == ids_of(run(engine, params))
    others = [ids_of(run(engine, SamplingParams(max_tokens=12, seed=s))) for s in (1, 2, 3)]
    assert any(ids != ids_of(run(engine, params)) for ids in others)


def test_tiny_top_p_is_greedy(engine: Engine) -> None:
    params = SamplingParams(max_tokens=8, temperature=1.0, top_p=1e-6, seed=1)
    assert ids_of(run(engine, params)) == ids_of(run(engine))


def test_max_tokens_gives_length(engine: Engine) -> None:
    chunks = run(engine, SamplingParams(max_tokens=5, temperature=0))
    assert [c.finish_reason for c in chunks] == [None] * 5 + ["length"]
    assert [len(c.token_ids) for c in chunks] == [1] * 5 + [0]


def test_streamed_text_is_the_decoded_completion(engine: Engine) -> None:
    tokenizer = AutoTokenizer.from_pretrained(engine.base_path)
    chunks = run(engine, SamplingParams(max_tokens=24, temperature=0))
    assert text_of(chunks) == tokenizer.decode(ids_of(chunks), skip_special_tokens=True)


#: Seeded sampling: the untrained head_dim-32 base repeats one token when greedy.
VARIED = SamplingParams(max_tokens=24, temperature=1.0, seed=0)


def test_stop_string_ends_generation_and_is_not_included(engine: Engine) -> None:
    full = text_of(run(engine, VARIED))
    start = next(
        k
        for k in range(1, len(full) - 2)
        if full.find(full[k : k + 2]) == k and "\ufffd" not in full[k : k + 2]
    )
    stop = full[start : start + 2]
    chunks = run(engine, dataclasses.replace(VARIED, stop=("never", stop)))
    assert text_of(chunks) == full[:start]
    assert chunks[-1].finish_reason == "stop"


def test_eos_gives_stop(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = ids_of(run(engine, VARIED))
    end = next(k for k in range(2, len(ids)) if ids[k] not in ids[:k])
    monkeypatch.setattr(engine, "_eos", frozenset({ids[end]}))
    chunks = run(engine, VARIED)
    assert ids_of(chunks) == ids[: end + 1]
    assert chunks[-1].finish_reason == "stop"


def test_bad_requests_raise_before_streaming(engine: Engine) -> None:
    with pytest.raises(ValueError, match="at least one token"):
        engine.generate([], GREEDY)
    with pytest.raises(ValueError, match="maximum model length of 512"):
        engine.generate([5] * 512, GREEDY)
    with pytest.raises(LoraError) as caught:
        engine.generate([5], GREEDY, "nobody")
    assert (caught.value.message, caught.value.status, caught.value.type_) == (
        "The model `nobody` does not exist.",
        404,
        "NotFoundError",
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_tokens": 0}, "max_tokens must be at least 1, got 0."),
        ({"temperature": -0.5}, "temperature must be non-negative, got -0.5."),
        ({"top_p": 0.0}, r"top_p must be in \(0, 1\], got 0.0."),
    ],
)
def test_sampling_params_are_checked(fields: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SamplingParams(**fields)  # type: ignore[arg-type]


def test_chat_uses_the_base_template(engine: Engine, models: Path) -> None:
    expected = "<|begin_of_text|><|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert engine.render_chat([{"role": "user", "content": "hi"}]) == expected
    engine.load_lora("tokenizer-inside", adapter(models, "with-tokenizer"))
    assert engine.render_chat([{"role": "user", "content": "hi"}]) == expected
    assert not engine.render_chat([{"role": "user", "content": "hi"}], False).endswith(
        "assistant\n"
    )


# --- adapters ----------------------------------------------------------------------------------


def test_each_request_gets_the_adapter_it_names(engine: Engine, models: Path) -> None:
    base = ids_of(run(engine))
    engine.load_lora("one@1.0.0", adapter(models, "one"))
    engine.load_lora("two@1.0.0", adapter(models, "two"))
    one, two = ids_of(run(engine, lora="one@1.0.0")), ids_of(run(engine, lora="two@1.0.0"))
    assert len({tuple(base), tuple(one), tuple(two)}) == 3
    assert ids_of(run(engine)) == base
    assert engine.loras() == {
        "one@1.0.0": adapter(models, "one"),
        "two@1.0.0": adapter(models, "two"),
    }


def test_interleaved_streams_keep_their_adapters(engine: Engine, models: Path) -> None:
    engine.load_lora("one", adapter(models, "one"))
    engine.load_lora("two", adapter(models, "two"))
    expected = [run(engine, lora=name) for name in (None, "one", "two")]
    streams = [engine.generate(prompt(engine), GREEDY, name) for name in (None, "one", "two")]
    got: list[list[Chunk]] = [[], [], []]
    for _ in range(GREEDY.max_tokens + 1):
        for index, stream in enumerate(streams):
            got[index].append(next(stream))
    assert got == expected


def test_unload(engine: Engine, models: Path) -> None:
    base = run(engine)
    engine.load_lora("one", adapter(models, "one"))
    engine.unload_lora("one")
    assert engine.loras() == {}
    assert run(engine) == base
    with pytest.raises(LoraError, match=re.escape("The model `one` does not exist.")):
        engine.generate(prompt(engine), GREEDY, "one")
    engine.load_lora("one", adapter(models, "two"))
    assert engine.loras() == {"one": adapter(models, "two")}


def test_unload_during_a_stream_lets_it_finish(engine: Engine, models: Path) -> None:
    engine.load_lora("one", adapter(models, "one"))
    expected = run(engine, lora="one")
    stream = engine.generate(prompt(engine), GREEDY, "one")
    head = [next(stream), next(stream)]
    engine.unload_lora("one")
    assert head + list(stream) == expected


def test_lru_eviction_keeps_the_names(models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One resident adapter at a time: the other's weights are read again on its request."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    engine = Engine(models / "base", max_loras=1)
    engine.load_lora("one", adapter(models, "one"))
    expected_one = run(engine, lora="one")
    stream = engine.generate(prompt(engine), GREEDY, "one")
    first = next(stream)
    engine.load_lora("two", adapter(models, "two"))  # "one" is in use: not evicted
    assert [first, *stream] == expected_one
    assert list(engine.loras()) == ["one", "two"]
    expected_two = run(engine, lora="two")
    assert run(engine, lora="one") == expected_one
    assert run(engine, lora="two") == expected_two
    assert engine._table.resident_count() == 1


def test_adapter_for_another_base_name_loads(engine: Engine, models: Path) -> None:
    """vLLM never checks base_model_name_or_path; neither does the reference node."""
    engine.load_lora("other", adapter(models, "other-name"))
    assert ids_of(run(engine, lora="other")) != ids_of(run(engine))


def test_adapter_with_other_shapes_fails_and_engine_keeps_serving(
    engine: Engine, models: Path
) -> None:
    base = run(engine)
    with pytest.raises(LoraError) as caught:
        engine.load_lora("wide", adapter(models, "wide"))
    assert (caught.value.status, caught.value.type_) == (500, "InternalServerError")
    assert caught.value.message.startswith("Call to add_lora method failed: Worker failed")
    assert "size mismatch" in caught.value.message
    assert engine.loras() == {}
    assert run(engine) == base
    engine.load_lora("one", adapter(models, "one"))
    assert run(engine, lora="one") != base


def test_corrupt_weights_fail_and_engine_keeps_serving(engine: Engine, models: Path) -> None:
    engine.load_lora("one", adapter(models, "one"))
    expected = run(engine, lora="one")
    with pytest.raises(LoraError) as caught:
        engine.load_lora("corrupt", adapter(models, "corrupt"))
    assert (caught.value.status, caught.value.type_) == (500, "InternalServerError")
    assert caught.value.message.startswith(
        "Call to add_lora method failed: Worker failed with error 'Error while deserializing header"
    )
    assert list(engine.loras()) == ["one"]
    assert run(engine, lora="one") == expected


def test_concurrent_loads_of_one_name(engine: Engine, models: Path) -> None:
    barrier, errors = threading.Barrier(4), []

    def load() -> None:
        barrier.wait()
        try:
            engine.load_lora("same", adapter(models, "one"))
        except LoraError as error:
            errors.append(error.message)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (
        errors
        == [
            "The lora adapter 'same' has already been loaded. If you want to load the adapter"
            " in place, set 'load_inplace' to True."
        ]
        * 3
    )
    assert list(engine.loras()) == ["same"]


# --- vLLM's errors, exactly ----------------------------------------------------------------------


def worker(reason: str) -> str:
    """vLLM's answer to a load that failed in its worker process (500 InternalServerError)."""
    return (
        f"Call to add_lora method failed: Worker failed with error '{reason}', please check"
        " the stack trace above for the root cause"
    )


#: Adapter directories and the worker's reason for refusing them (None: not found, 404).
ERRORS = [
    ("missing", None),
    ("empty", None),
    ("no-tensors", "{path} doesn't contain tensors"),
    ("rank32", "LoRA rank 32 is greater than max_lora_rank 16."),
    ("dora", "vLLM does not yet support DoRA."),
    ("bias", "Adapter bias is not supported."),
    ("saves", 'vLLM only supports modules_to_save being either None or ["classifier", "score"]'
              " for classification models. Unsupported modules_to_save: ['lm_head']"),
    ("everything", "vLLM does not yet support DoRA. LoRA rank 32 is greater than max_lora_rank"
                   " 16. Adapter bias is not supported."),
]  # fmt: skip


@pytest.mark.parametrize(("directory", "reason"), ERRORS)
def test_load_errors(engine: Engine, models: Path, directory: str, reason: str | None) -> None:
    path = adapter(models, directory)
    with pytest.raises(LoraError) as caught:
        engine.load_lora("x", path)
    error = caught.value
    expected = (
        (f"Loading lora x failed: No adapter found for {path}", 404, "NotFoundError")
        if reason is None
        else (worker(reason.format(path=path)), 500, "InternalServerError")
    )
    assert (error.message, error.status, error.type_) == expected
    assert engine.loras() == {}


def test_already_loaded(engine: Engine, models: Path) -> None:
    engine.load_lora("one", adapter(models, "one"))
    with pytest.raises(LoraError) as caught:
        engine.load_lora("one", adapter(models, "two"))
    error = caught.value
    assert (error.status, error.type_, error.type) == (400, "InvalidUserInput", "InvalidUserInput")
    assert error.message == (
        "The lora adapter 'one' has already been loaded. If you want to load the adapter"
        " in place, set 'load_inplace' to True."
    )
    assert engine.loras() == {"one": adapter(models, "one")}


def test_unload_unknown(engine: Engine) -> None:
    with pytest.raises(LoraError) as caught:
        engine.unload_lora("ghost")
    error = caught.value
    assert (error.message, error.status, error.type_) == (
        "The lora adapter 'ghost' cannot be found.",
        404,
        "NotFoundError",
    )


def test_names_and_paths_are_required(engine: Engine) -> None:
    with pytest.raises(
        LoraError, match=re.escape("Both 'lora_name' and 'lora_path' must be provided.")
    ):
        engine.load_lora("", "/x")
    with pytest.raises(LoraError, match="'lora_name' needs to be provided"):
        engine.unload_lora("")


def test_path_outside_the_allowed_directory(engine: Engine, models: Path) -> None:
    outside = str(models / "base")
    with pytest.raises(LoraError) as caught:
        engine.load_lora("x", outside)
    error = caught.value
    assert (error.status, error.type_, error.param) == (400, "BadRequestError", "lora_path")
    assert error.message == (
        f"LoRA path '{outside}' is outside the allowed directory '{(models / 'adapters').resolve()}'."
    )
    escape = str(models / "adapters" / ".." / "base")
    with pytest.raises(LoraError, match="outside the allowed directory"):
        engine.load_lora("x", escape)


def test_symlink_out_of_the_allowed_directory(engine: Engine, models: Path) -> None:
    link = models / "adapters" / "link-out"
    if not link.exists():
        link.symlink_to(models / "base", target_is_directory=True)
    with pytest.raises(LoraError, match="outside the allowed directory"):
        engine.load_lora("x", str(link))


def test_max_cpu_loras_below_max_loras(models: Path) -> None:
    with pytest.raises(ValueError, match=r"max_cpu_loras \(1\) must be >= max_loras \(2\)"):
        Engine(models / "base", max_loras=2, max_cpu_loras=1)
