# Copyright (c) mmwsss contributors. All rights reserved.
"""Argument checks shared by the constructors (one error format)."""
from typing import Any, Sequence

__all__ = ['check_choices']


def check_choices(**options: Any) -> None:
    """Raise ``ValueError('<name> must be one of <allowed>, got <value>.')``
    for the first option whose value is not allowed.

    Args:
        **options: ``name=(value, allowed values)``.
    """
    for name, (value, allowed) in options.items():
        allowed: Sequence = tuple(allowed)
        if value not in allowed:
            raise ValueError(
                f'{name} must be one of {allowed}, got {value!r}.')
