"""``{{name}}`` placeholders in prompts and messages, filled the same way everywhere."""

from __future__ import annotations

import re
from collections.abc import Mapping

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}")


def render(text: str, variables: Mapping[str, str]) -> str:
    """``{{name}}`` replaced by its value; a name without a value is left as written."""
    return _VARIABLE.sub(lambda match: variables.get(match.group(1), match.group(0)), text)
