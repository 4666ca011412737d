"""What the trainer adapters read from a dataset row, made ready for the wire.

Trainers hand over their dataset's columns as stored: Parquet lists arrive as numpy
arrays (verl), and structured values such as per-row options are often kept as JSON
strings, because a dataset column holds one type. A value that is still not what the
verifier expects goes as it is, so that item comes back `invalid` saying why, instead
of one bad row stopping a training step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["plain", "row_options"]


def plain(value: Any) -> Any:
    """Numpy arrays and scalars (and containers of them) as plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and not isinstance(value, (str, bytes)):
        return plain(tolist())
    return value


def row_options(base: Mapping[str, Any], value: Any) -> Any:
    """`base` options with a row's own on top; a row's may be a dict or its JSON."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else None
        except ValueError:
            return value
    value = plain(value)
    if value is None:
        return dict(base)
    if isinstance(value, dict):
        return {**base, **value}
    return value
