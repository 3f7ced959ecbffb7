"""Incremental detokenization of a token stream, with vLLM's rules for stop strings."""

from __future__ import annotations

from typing import Any


class TextStream:
    """Incremental detokenization with vLLM's rules: text is decoded with a few prompt
    tokens as prefix (so leading spaces survive), an incomplete UTF-8 sequence is held
    back, and with stop strings the last ``max(len(stop)) - 1`` characters are held back
    until they can no longer begin a stop string; the stop string itself is never emitted."""

    def __init__(self, tokenizer: Any, prompt_ids: list[int], stop: tuple[str, ...]) -> None:
        self._tokenizer = tokenizer
        self._prefix = prompt_ids[-4:]
        self._prefix_text = self._decode(self._prefix)
        self._ids: list[int] = []
        self._stop = tuple(s for s in stop if s)
        self._hold = max((len(s) for s in self._stop), default=1) - 1
        self._text = ""
        self._sent = 0

    def _decode(self, ids: list[int]) -> str:
        return str(self._tokenizer.decode(ids, skip_special_tokens=True))

    def push(self, token_id: int) -> tuple[str, bool]:
        """Add a token; return the text that can be sent now and whether a stop string hit."""
        self._ids.append(token_id)
        full = self._decode(self._prefix + self._ids)
        if full.startswith(self._prefix_text):
            text = full[len(self._prefix_text) :]
        else:  # the prefix decodes differently in context: do without it
            text = self._decode(self._ids)
        self._text = text
        hits = [index for index in (text.find(s) for s in self._stop) if index >= 0]
        if hits:
            self._text = text[: min(hits)]
            return self.flush(), True
        ready = min(len(text) - self._hold, len(text.rstrip("\ufffd")))
        return self._take(ready), False

    def _take(self, end: int) -> str:
        if end <= self._sent:
            return ""
        piece, self._sent = self._text[self._sent : end], end
        return piece

    def flush(self) -> str:
        """Everything decoded and not yet sent."""
        return self._take(len(self._text))
