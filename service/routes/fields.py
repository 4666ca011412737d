"""Field types the routes' request models share.

JSON may carry a lone UTF-16 surrogate (`"\\ud800"`), which Python's `json` accepts and
nothing downstream can encode: a file name, a cell or an action holding one failed deep
in a session (a 500, or a kernel that never answered). Such text is refused where the
request is read, as the reward routes' parser (orjson) refuses it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

__all__ = ["Utf8"]


def _utf8(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"not UTF-8 text: a lone surrogate at offset {exc.start}") from None
    return text


Utf8 = Annotated[str, AfterValidator(_utf8)]
