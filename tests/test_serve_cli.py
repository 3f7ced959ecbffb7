"""``adapterctl serve`` as a user runs it: a real process on loopback, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from openai import APIConnectionError, OpenAI

from adapterctl.cli.app import main
from examples.kit import AdapterSpec, BaseSpec, make_adapter, make_base


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


START_TIMEOUT_S = 180.0
"""A safety net: ``adapterctl serve`` answers in seconds, more on a busy machine."""


def _wait_until_serving(process: subprocess.Popen[str], client: OpenAI) -> list[str]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            return [model.id for model in client.models.list()]
        except APIConnectionError:
            if process.poll() is not None:
                pytest.fail(
                    f"adapterctl serve exited: {process.stderr.read() if process.stderr else ''}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"adapterctl serve not answering after {START_TIMEOUT_S:g} s")
            time.sleep(0.1)  # polling a readiness endpoint, not waiting out a race


def test_serve_loads_lora_modules_and_stops_cleanly(tmp_path: Path) -> None:
    base, adapter = tmp_path / "base", tmp_path / "adapter"
    make_base(base, BaseSpec(arch="llama"))
    make_adapter(adapter, BaseSpec(arch="llama"), AdapterSpec(seed=3))
    port = _port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", VLLM_ALLOW_RUNTIME_LORA_UPDATING="True")
    command = [
        str(Path(sys.executable).parent / "adapterctl"),
        "serve",
        "--base",
        str(base),
        "--served-model-name",
        "tiny-llama",
        "--port",
        str(port),
        "--api-key",
        "k",
        "--lora-modules",
        f"support-bot@1.1.0={adapter}",
        "--lora-modules",
        f'{{"name": "sql-helper@1.0.0", "path": "{adapter}"}}',
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        with OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0) as client:
            assert _wait_until_serving(process, client) == [
                "tiny-llama",
                "support-bot@1.1.0",
                "sql-helper@1.0.0",
            ]
            answer = client.completions.create(
                model="support-bot@1.1.0", prompt="Hello", max_tokens=4, temperature=0
            )
            assert answer.choices[0].finish_reason in ("length", "stop")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models")
        assert refused.value.code == 401
        refused.value.close()
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)  # a safety net
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status says why
    assert process.returncode in (0, -signal.SIGTERM)
    assert "Traceback" not in err
    assert out.splitlines()[0] == f"adapterctl serve: tiny-llama on http://127.0.0.1:{port}"


@pytest.mark.parametrize("holds", ["nothing", "a tokenizer only", "config without model_type"])
def test_a_base_folder_that_is_no_model_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], holds: str
) -> None:
    folder = tmp_path / "base"
    folder.mkdir()
    expected = f"--base {folder}: no config.json, so not a model folder"
    if holds == "a tokenizer only":
        (folder / "tokenizer.json").write_text("{}")
    elif holds == "config without model_type":
        (folder / "config.json").write_text('{"hidden_size": 8}')
        expected = f"--base {folder}: config.json names no model_type"
    assert main(["serve", "--base", str(folder)]) == 1
    assert capsys.readouterr() == ("", (
        f"adapterctl: error: {expected}\n"
        "  → give the folder a model was saved to (save_pretrained), holding config.json and "
        "weights\n"
    ))  # fmt: skip
