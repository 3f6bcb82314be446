"""`@immutable`: the dataclass of every value monitorgen passes around.

A class it decorates is a frozen dataclass to the type checker (mypy reports any
assignment to a field) and, at run time, a dataclass with value equality and a hash
over its fields. It is not frozen at run time, because on Python 3.11 a frozen
dataclass costs two more generated methods per class, each compiled on its own, and an
`__init__` that sets every field through `object.__setattr__`: the hundred-odd classes
of a build took 40% longer to define (a fifth of a small build's run) and their
objects twice as long to make.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, dataclass_transform, overload

_T = TypeVar("_T")


@overload
def immutable(cls: type[_T], /) -> type[_T]: ...


@overload
def immutable(
    *, order: bool = False, eq: bool = True, slots: bool = False
) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def immutable(
    cls: type[_T] | None = None, /, *, order: bool = False, eq: bool = True, slots: bool = False
) -> Any:
    """`@dataclass(frozen=True)` for the type checker; see the module's docstring."""

    def make(target: type[_T]) -> type[_T]:
        return dataclass(target, eq=eq, order=order, unsafe_hash=eq, slots=slots)

    return make if cls is None else make(cls)
