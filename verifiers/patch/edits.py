"""The model's edits: SWE-RL's response layout and its search/replace blocks.

SWE-RL (facebookresearch/swe-rl, `src/swerl/core/reward.py`) asks for
`<think>...</think><solution>...</solution>`, each tag exactly once and a non-empty
thought, and reads the solution's fenced blocks

    ```python
    ### path/to/file.py
    <<<<<<< SEARCH
    old lines
    =======
    new lines
    >>>>>>> REPLACE
    ```

An edit applies by plain text: the file gets a leading newline, and every occurrence of
newline + SEARCH becomes newline + REPLACE (so a search matches from the start of a
line, and a search found twice is replaced twice). A search absent from the file, or
equal to its replacement, fails the whole response. These rules are reimplemented here
from the paper's description and checked value for value against SWE-RL's own code in
`tests/verifiers/patch_reference/` (its licence, CC BY-NC 4.0, keeps its code out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["EditError", "SearchReplace", "apply_search_replace", "parse_blocks", "split_response"]

MAX_FILE_CHARS = 16 << 20
_TAGS = ("<think>", "</think>", "<solution>", "</solution>")
# One fenced block: an opening fence with anything after the backticks, a `### path`
# line, then SEARCH / divider / REPLACE markers each on a line of its own. The two
# bodies are lazy so consecutive blocks stay apart.
_BLOCK = re.compile(
    r"```.*?\n"
    r"### (?P<path>.*)\n"
    r"<<<<<<< SEARCH\n(?P<search>[\s\S]*?)\n"
    r"=======\n(?P<replace>[\s\S]*?)\n"
    r">>>>>>> REPLACE\n```"
)


class EditError(Exception):
    """The response's edits are malformed or do not apply: reward -1, never a crash."""


@dataclass(frozen=True)
class SearchReplace:
    path: str
    search: str
    replace: str


def split_response(response: str) -> tuple[str, str]:
    """(thought, solution) of SWE-RL's layout; `EditError` when a tag is not there once."""
    for tag in _TAGS:
        if response.count(tag) != 1:
            raise EditError(f"count of {tag} is not 1")
    thought = response.split("<think>")[1].split("</think>")[0].strip()
    solution = response.split("<solution>")[1].split("</solution>")[0].strip()
    if not thought:
        raise EditError("Thought is empty")
    return thought, solution


def parse_blocks(text: str) -> list[SearchReplace]:
    """Every search/replace block of `text`, in order (none is not an error here)."""
    return [
        SearchReplace(match["path"], match["search"], match["replace"])
        for match in _BLOCK.finditer(text)
    ]


def grouped(blocks: list[SearchReplace]) -> dict[str, list[SearchReplace]]:
    """Blocks by path, paths in the order they first appear (the order edits apply)."""
    by_path: dict[str, list[SearchReplace]] = {}
    for edit in blocks:
        by_path.setdefault(edit.path, []).append(edit)
    return by_path


def apply_search_replace(
    original: str, edits: list[SearchReplace], max_chars: int = MAX_FILE_CHARS
) -> tuple[str, list[dict[str, object]]]:
    """The file after `edits`, and where each applied (line numbers in the text it met).

    A path the snapshot lacks arrives as "" (a new file: only an empty search applies).
    A file that would grow past `max_chars` is refused before it is built: an empty
    search matches at every newline, so one block could otherwise multiply a file.
    """
    content = "\n" + original
    applied: list[dict[str, object]] = []
    for number, edit in enumerate(edits):
        if edit.search == edit.replace:
            raise EditError("Search and replace blocks are identical")
        search, replace = "\n" + edit.search, "\n" + edit.replace
        at = content.find(search)
        if at < 0:
            raise EditError(f"Search block not found in the code: {search[:200]}")
        count = content.count(search)
        grown = len(content) + count * (len(replace) - len(search))
        if grown > max_chars:
            raise EditError(f"refused: {edit.path[:200]!r} would grow past {max_chars} characters")
        applied.append(
            {
                "block": number,
                "path": edit.path,
                "line": content.count("\n", 0, at) + 1,
                "occurrences": count,
            }
        )
        content = content.replace(search, replace)
    return content[1:], applied
