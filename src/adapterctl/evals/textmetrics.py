"""Text measures behind the assertions (edit distance, ROUGE-N, word counts, JSON).

Plain Python; each measure follows what promptfoo documents for its assertion. Also the
helpers that quote answers and numbers in the assertions' reasons.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence

_TOKEN = re.compile(r"\w+")


def levenshtein(a: str, b: str) -> int:
    """The number of single-character insertions, deletions and substitutions from a to b."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(
                    previous[j] + 1,  # deletion
                    current[j - 1] + 1,  # insertion
                    previous[j - 1] + (char_a != char_b),  # substitution
                )
            )
        previous = current
    return previous[-1]


def tokens(text: str) -> list[str]:
    """Lower-cased runs of word characters (letters, digits, '_'); punctuation is dropped."""
    return _TOKEN.findall(text.lower())


def ngrams(words: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def rouge_n(candidate: str, reference: str, n: int = 1) -> float | None:
    """ROUGE-N recall: the share of the reference's n-grams that the candidate has.

    As promptfoo (js-rouge ``n``): matched n-grams (clipped to their count in the
    candidate) divided by the reference's n-gram count, compared case-insensitively.
    ``None`` when the reference has no n-grams, so there is nothing to recall.
    """
    wanted = ngrams(tokens(reference), n)
    total = sum(wanted.values())
    if total == 0:
        return None
    have = ngrams(tokens(candidate), n)
    return sum(min(count, have[gram]) for gram, count in wanted.items()) / total


def word_count(text: str) -> int:
    """Words separated by whitespace, as promptfoo's word-count counts them."""
    return len(text.split())


def json_loads(text: str) -> tuple[object, str | None]:
    """The JSON document in ``text``, or why it is not JSON (NaN and Infinity are not)."""

    def refuse(constant: str) -> object:
        raise ValueError(f"{constant} is not JSON")

    try:
        return json.loads(text, parse_constant=refuse), None
    except json.JSONDecodeError as exc:
        return None, f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except (ValueError, RecursionError) as exc:
        return None, str(exc) or type(exc).__name__


def json_equal(a: object, b: object) -> bool:
    """Structural JSON equality: true is not 1, 1 is 1.0, lists keep their order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def number(value: float) -> str:
    """2310 → '2310', 0.75 → '0.75', 2310.456 → '2310.46'."""
    return f"{round(value, 2):f}".rstrip("0").rstrip(".")


def quote(text: str, *, mark: str = "'", limit: int = 40) -> str:
    """``text`` on one line, quoted, cut to ``limit`` characters with '…'."""
    text = text.replace("\n", "\\n")
    return f"{mark}{text if len(text) <= limit else text[: limit - 1] + '…'}{mark}"


def quotes(values: Sequence[str]) -> str:
    return ", ".join(quote(v) for v in values)
