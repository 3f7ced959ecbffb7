"""Option groups: options that travel together, declared once as a frozen dataclass.

A command takes the group as one parameter (``where: StoreArgs = NO_STORE``);
:func:`option_groups` spreads the group's fields into the signature typer reads, where
the parameter stands, and gathers the parsed values back into the dataclass. The
options, their order, names, help and defaults are exactly the fields'.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable


class OptionGroup:
    """Base of the dataclasses whose fields are typer options (``Annotated`` aliases)."""


def _fields(hint: object) -> tuple[dataclasses.Field[object], ...]:
    """The fields of an option group, none for any other type."""
    if isinstance(hint, type) and issubclass(hint, OptionGroup) and dataclasses.is_dataclass(hint):
        return dataclasses.fields(hint)
    return ()


def _default(field: dataclasses.Field[object]) -> object:
    return inspect.Parameter.empty if field.default is dataclasses.MISSING else field.default


def option_groups(command: Callable[..., int]) -> Callable[..., int]:
    """``command`` as typer should see it: each :class:`OptionGroup` parameter spread into
    its fields (keyword parameters, in the fields' order)."""
    hints = typing.get_type_hints(command, include_extras=True)
    spread: list[inspect.Parameter] = []
    groups: dict[str, tuple[Callable[..., OptionGroup], tuple[str, ...]]] = {}
    for param in inspect.signature(command).parameters.values():
        fields = _fields(hint := hints[param.name])
        if not fields:
            spread.append(param.replace(kind=param.KEYWORD_ONLY, annotation=hint))
            continue
        annotations = typing.get_type_hints(hint, include_extras=True)
        spread += [inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY,
                                     default=_default(field), annotation=annotations[field.name])
                   for field in fields]  # fmt: skip
        groups[param.name] = (hint, tuple(field.name for field in fields))

    @functools.wraps(command)
    def gathered(**values: object) -> int:
        for name, (group, names) in groups.items():
            values[name] = group(**{field: values.pop(field) for field in names})
        return command(**values)

    gathered.__signature__ = inspect.Signature(spread, return_annotation=int)  # type: ignore[attr-defined]
    gathered.__annotations__ = {p.name: p.annotation for p in spread} | {"return": int}
    return gathered
