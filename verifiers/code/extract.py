"""Find the program in a response: the last fenced block of the requested language.

Preference, most specific first: the last block tagged with the language (```python,
```py, ```python3, ```c, ```cpp, ```c++ ...), the last untagged block, the last block of
any tag; a response with no fence is the program itself. A final fence left open (a
generation cut off by its length limit) runs to the end of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["TAGS", "Block", "extract_program", "fenced_blocks"]

TAGS: dict[str, frozenset[str]] = {
    "python": frozenset({"python", "py", "python3", "py3", "python2"}),
    "c": frozenset({"c", "h"}),
    "cpp": frozenset({"cpp", "c++", "cc", "cxx", "hpp"}),
    "java": frozenset({"java"}),
    "nodejs": frozenset({"javascript", "js", "node", "nodejs", "mjs", "cjs"}),
    "rust": frozenset({"rust", "rs"}),
    "go": frozenset({"go", "golang"}),
    "bash": frozenset({"bash", "sh", "shell", "zsh"}),
    "php": frozenset({"php"}),
    "lua": frozenset({"lua"}),
    "perl": frozenset({"perl", "pl"}),
    "ruby": frozenset({"ruby", "rb"}),
    "r": frozenset({"r"}),
    "typescript": frozenset({"typescript", "ts"}),
    "racket": frozenset({"racket", "rkt", "scheme"}),
    "csharp": frozenset({"csharp", "cs", "c#"}),
    "d": frozenset({"d", "dlang"}),
    "d_ut": frozenset({"d", "dlang"}),
    "scala": frozenset({"scala"}),
    "kotlin": frozenset({"kotlin", "kt"}),
    "kotlin_script": frozenset({"kotlin", "kt", "kts"}),
    "jest": frozenset({"typescript", "ts", "javascript", "js"}),
    "verilog": frozenset({"verilog", "v", "systemverilog", "sv"}),
}

# An opening fence at a line start: 3+ backticks or tildes, then an optional tag.
_OPEN = re.compile(r"^[ \t]{0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    tag: str
    code: str


def fenced_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    pos = 0
    while True:
        match = _OPEN.search(text, pos)
        if match is None:
            return blocks
        fence = match.group("fence")
        info = match.group("info").strip().split()
        tag = info[0].lower().lstrip("{.").rstrip("}") if info else ""
        start = match.end() + 1
        close = re.compile(rf"^[ \t]{{0,3}}{fence[0]}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
        end = close.search(text, start) if start <= len(text) else None
        if end is None:
            blocks.append(Block(tag, text[start:]))
            return blocks
        blocks.append(Block(tag, text[start : end.start()]))
        pos = end.end()


def extract_program(response: str, language: str) -> str:
    """The program in `response` for `language` (an id of sandbox/languages.py)."""
    blocks = fenced_blocks(response)
    if not blocks:
        return response
    tags = TAGS.get(language, frozenset({language}))
    for wanted in (lambda b: b.tag in tags, lambda b: b.tag == "", lambda b: True):
        chosen = [b for b in blocks if wanted(b)]
        if chosen:
            return chosen[-1].code
    return response  # unreachable: the last filter accepts every block
