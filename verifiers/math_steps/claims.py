"""Finding the relation chains a step claims: `a = b`, `a = b = c`, `a < b`, `a \\approx b`.

Math comes from LaTeX segments (`$...$`, `\\(...\\)`, `\\[...\\]`, `$$...$$`, align-like
environments) and from plain-text arithmetic outside them (`48 / 2 = 24`). Each chain
keeps what is needed to avoid false refutations: whether a word before it changes its
first member ("20% *of* 50 = 10") or a word after it changes its last ("= 2 *million*",
"= 3 *remainder* 1"), and whether it is followed by more values ("x = 1, 2", "x = 2 or
3"), which makes it no definition of x.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Chain", "find_chains"]

# Words that change the member next to them: the claim is not what it seems.
_BEFORE = frozenset(
    [
        "of",
        "times",
        "by",
        "than",
        "per",
        "from",
        "minus",
        "plus",
        "over",
        "into",
        "divided",
        "multiplied",
        "half",
        "twice",
        "double",
        "triple",
        "each",
        "every",
    ]
)
# In plain text "and" before a number sums it ("5 and 3 = 8"); before LaTeX it joins claims.
_PLAIN_BEFORE = _BEFORE | {"and"}
_AFTER = frozenset(
    [
        "remainder",
        "rem",
        "r",
        "R",
        "rounded",
        "approximately",
        "approx",
        "about",
        "roughly",
        "nearly",
        "almost",
        "million",
        "millions",
        "billion",
        "billions",
        "thousand",
        "thousands",
        "hundred",
        "hundreds",
        "trillion",
        "percent",
        "dozen",
        "dozens",
        "times",
        "of",
        "mod",
        "modulo",
        "more",
        "less",
        "fewer",
        "over",
        "per",
        "plus",
        "minus",
    ]
)
# Words a number and a colon label a line with ("Step 3: ..."), unlike a ratio ("is 3 : 4").
_LABELS = frozenset(
    [
        "step",
        "case",
        "part",
        "problem",
        "question",
        "example",
        "line",
        "method",
        "stage",
        "round",
        "equation",
        "eq",
    ]
)
# Stands for "glued to notation we do not read": qualifies the member next to it.
_GLUED = "<glued>"
_CONNECTORS = frozenset(
    [
        "and",
        "or",
        "so",
        "then",
        "thus",
        "hence",
        "where",
        "since",
        "because",
        "if",
        "for",
        "when",
        "which",
        "is",
        "are",
        "we",
        "get",
        "have",
        "gives",
        "giving",
        "implies",
        "therefore",
        "with",
        "as",
        "but",
        "while",
    ]
)

_SEGMENT = re.compile(
    r"\$\$(?P<dd>.+?)\$\$"
    r"|\\\[(?P<br>.+?)\\\]"
    r"|\\\((?P<pa>.+?)\\\)"
    r"|\\begin\{(?P<env>align\*?|aligned|equation\*?|gather\*?|eqnarray\*?|split)\}"
    r"(?P<envbody>.+?)\\end\{(?P=env)\}"
    r"|(?<![\\$])\$(?P<d>[^$\n]+?)\$",
    re.S,
)
_INLINE_DOLLARS = re.compile(r"(?<![\\$])\$(?!\$)([^$\n]*)\$")
_LATEX_WORDS = re.compile(r"\\[A-Za-z]+(?:\{[^{}]*\})?")
_WORDY = re.compile(r"[A-Za-z]{3,}")
# Words that are prose, not a product of variables, even alone between dollar signs.
_PROSE = frozenset(["and", "the", "for", "with", "per", "each", "then", "she", "his", "her"])
_RELATION = re.compile(
    r"\\approx|\\neq|\\ne(?![a-zA-Z])|\\leq?(?![a-zA-Z])|\\geq?(?![a-zA-Z])|\\lt|\\gt|[=<>≈≠≤≥]"
)
_OP_NAMES = {
    "=": "=",
    "\\approx": "~",
    "≈": "~",
    "\\neq": "!=",
    "\\ne": "!=",
    "≠": "!=",
    "<": "<",
    "\\lt": "<",
    ">": ">",
    "\\gt": ">",
    "\\le": "<=",
    "\\leq": "<=",
    "≤": "<=",
    "\\ge": ">=",
    "\\geq": ">=",
    "≥": ">=",
}
_SEPARATORS = re.compile(
    r"\\q?quad|\\(?:Long)?[Rr]ightarrow|\\implies|\\iff|\\therefore|\\because|\\Leftrightarrow"
    r"|\\text\{(?P<text>[^{}]*)\}|\\mbox\{(?P<mbox>[^{}]*)\}|;|\\to(?![a-zA-Z])"
)
_DROP = re.compile(
    r"\\left|\\right|\\displaystyle|\\nonumber|\\notag|\\tag\{[^{}]*\}|\\label\{[^{}]*\}"
    r"|\\[,;:! ]|&"
)
# Plain text: numbers, lone letters, operators; anything else ends the run.
_PLAIN_TOKEN = re.compile(
    r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|(?<![A-Za-z])[A-Za-z](?![A-Za-z])"
    r"|[-+*/\u00d7\u00f7\u00b7^()!%=\u2248]|[ \t]+"
)
_WORD = re.compile(r"[A-Za-z]+")
# Characters around a chain read for the words that qualify it (a window keeps it linear).
_CONTEXT = 60


@dataclass(frozen=True)
class Chain:
    """`members[0] ops[0] members[1] ops[1] ...`; members are LaTeX (plain text converted)."""

    members: tuple[str, ...]
    ops: tuple[str, ...]
    qualified_first: bool = False
    qualified_last: bool = False
    listed: bool = False

    @property
    def text(self) -> str:
        parts = [self.members[0]]
        for op, member in zip(self.ops, self.members[1:], strict=True):
            parts += [op, member]
        return " ".join(parts)


def find_chains(step: str, limit: int = 1000) -> list[Chain]:
    """The relation chains in the step (at most `limit`), LaTeX segments, then plain text."""
    step = _without_currency(step)
    chains: list[Chain] = []
    plain_parts: list[tuple[int, str]] = []
    position = 0
    for match in _SEGMENT.finditer(step):
        plain_parts.append((position, step[position : match.start()]))
        body = next(group for group in match.group("dd", "br", "pa", "envbody", "d") if group)
        before = _last_word(step[max(match.start() - _CONTEXT, 0) : match.start()])
        after = _first_word(step[match.end() : match.end() + _CONTEXT])
        chains += _latex_chains(body, before, after)
        position = match.end()
        if len(chains) >= limit:
            return chains[:limit]
    plain_parts.append((position, step[position:]))
    for _, text in plain_parts:
        chains += _plain_chains(text)
        if len(chains) >= limit:
            break
    return chains[:limit]


def _without_currency(step: str) -> str:
    """The step with dollar signs of amounts removed (`earns $12 an hour ... = $10`).

    A `$` opens inline math only if what it would enclose reads as math: prose between
    two dollar signs (two words of three letters or more outside LaTeX commands, or one
    such as "and"; `Prt` alone is a product) means the first one is currency. Dollar
    signs left unpaired before a number are currency too.
    """
    currency: list[int] = []
    position = 0
    while match := _INLINE_DOLLARS.search(step, position):
        words = _WORDY.findall(_LATEX_WORDS.sub(" ", match.group(1)))
        if len(words) >= 2 or _PROSE.intersection(word.lower() for word in words):
            currency.append(match.start())
            position = match.start() + 1
        else:
            position = match.end()
    if not currency:
        return step
    pieces = [step[a + 1 : b] for a, b in zip([-1, *currency], [*currency, len(step)], strict=True)]
    return "".join(pieces)


def _last_word(text: str) -> str:
    words = _WORD.findall(text[-40:])
    return words[-1] if words and re.search(r"[A-Za-z]\W{0,2}\s*$", text) else ""


def _first_word(text: str) -> str:
    match = re.match(r"\s*([A-Za-z]+|%)", text)
    return match.group(1) if match else ""


def _latex_chains(body: str, before: str, after: str) -> list[Chain]:
    body = _DROP.sub(" ", _unbox(body))
    rows: list[str] = []
    for row in re.split(r"\\\\", body):
        if rows and _RELATION.match(row.strip()):
            rows[-1] += " " + row
        else:
            rows.append(row)
    pieces: list[str] = []
    for row in rows:
        pieces += _split_separators(row)
    chains: list[Chain] = []
    for i, piece in enumerate(pieces):
        chain = _chain(piece, "latex")
        if chain is not None:
            chain = _without_result_unit(chain)
        if chain is None:
            if chains and piece.strip() and i > 0:
                chains[-1] = _with(chains[-1], listed=True)
            continue
        chains.append(chain)
    if chains:
        chains[0] = _with(chains[0], qualified_first=before in _BEFORE)
        chains[-1] = _with(chains[-1], qualified_last=after in _AFTER)
    return chains


def _unbox(text: str) -> str:
    """`\\boxed{x}` -> `x` (balanced braces), so a boxed member reads as its content."""
    while match := re.search(r"\\(?:boxed|fbox)\s*\{", text):
        depth, i = 1, match.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth:
            return text[: match.start()] + text[match.end() :]
        text = text[: match.start()] + text[match.end() : i - 1] + text[i:]
    return text


_TRAILING_UNIT = re.compile(
    r"^(?P<value>.*?\S)\s*\\mathrm\{(?P<unit>[A-Za-z]+)\}(?:\s*\^\s*\{?\d\}?)?\s*$", re.S
)


def _without_result_unit(chain: Chain) -> Chain:
    """`3 + 4 = 7 \\text{ eggs}` compares 7: a unit on the last member only is a label.

    A unit elsewhere (`1 \\text{ foot} = 12`), different units on both sides (`5 cm =
    50 mm`) or a multiplier word (`= 2 \\text{ dozen}`) stays, and the claim stays
    unchecked.
    """
    last = _TRAILING_UNIT.match(chain.members[-1])
    if last is None or last.group("unit") in _AFTER or "\\mathrm" in last.group("value"):
        return chain
    if any("\\mathrm" in member for member in chain.members[:-1]):
        return chain
    members = (*chain.members[:-1], last.group("value"))
    return Chain(members, chain.ops, chain.qualified_first, chain.qualified_last, chain.listed)


def _with(chain: Chain, **changes: bool) -> Chain:
    values = {
        "qualified_first": chain.qualified_first or changes.get("qualified_first", False),
        "qualified_last": chain.qualified_last or changes.get("qualified_last", False),
        "listed": chain.listed or changes.get("listed", False),
    }
    return Chain(chain.members, chain.ops, **values)


def _split_separators(row: str) -> list[str]:
    """Cut a row at connectives, `;`, `,`/`or`/`and` between members (not `1,000`)."""
    pieces: list[str] = []
    start = 0
    for match in _SEPARATORS.finditer(row):
        text = match.group("text") if match.group("text") is not None else match.group("mbox")
        if text is not None and _is_unit(text):
            continue
        pieces.append(row[start : match.start()])
        start = match.end()
    pieces.append(row[start:])
    split: list[str] = []
    for piece in pieces:
        split += _split_top_level_commas(piece)
    return [_units_to_symbols(piece) for piece in split]


def _is_unit(text: str) -> bool:
    words = text.split()
    return len(words) == 1 and words[0].isalpha() and words[0].lower() not in _CONNECTORS


def _units_to_symbols(piece: str) -> str:
    return re.sub(
        r"\\(?:text|mbox|mathrm)\{\s*([A-Za-z]+)\s*\}", lambda m: f"\\mathrm{{{m.group(1)}}}", piece
    )


def _split_top_level_commas(piece: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    start = 0
    for i, char in enumerate(piece):
        if char in "({[":
            depth += 1
        elif char in ")}]":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            if re.match(r"\d{3}(?!\d)", piece[i + 1 :]) and re.search(r"\d$", piece[:i]):
                continue  # 1,000
            parts.append(piece[start:i])
            start = i + 1
    parts.append(piece[start:])
    return parts


def _chain(piece: str, kind: str) -> Chain | None:
    piece = piece.strip().rstrip(".").strip()
    members: list[str] = []
    ops: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(piece):
        char = piece[i]
        if char in "{([":
            depth += 1
        elif char in "})]":
            depth = max(depth - 1, 0)
        match = _RELATION.match(piece, i) if depth == 0 else None
        if match is None:
            i += 1
            continue
        members.append(piece[start:i].strip())
        ops.append(_OP_NAMES[match.group()])
        i = start = match.end()
    members.append(piece[start:].strip())
    if not ops or any(not member for member in members):
        return None
    return Chain(tuple(members), tuple(ops))


def _plain_chains(text: str) -> list[Chain]:
    """Arithmetic written without LaTeX, e.g. `So 48 / 2 = 24 apples.`"""
    chains: list[Chain] = []
    for line in text.splitlines():
        line = re.sub(r"\$(?=\d)", "", line)  # an amount, as `$10`
        for run, before, after in _plain_runs(line):
            if "=" not in run and "≈" not in run:
                continue
            # "Total = 5 + 3 = 8": the word before the first `=` names the chain.
            run = re.sub(r"^\s*=(?!=)", "", run)
            chain = _chain(_plain_to_latex(run), "plain")
            if chain is None or not all(re.search(r"[\dA-Za-z]", m) for m in chain.members):
                continue
            chain = _with(
                chain,
                qualified_first=before in _PLAIN_BEFORE or before == _GLUED,
                qualified_last=after in _AFTER or after == _GLUED,
            )
            chains.append(chain)
    return chains


def _plain_runs(line: str) -> list[tuple[str, str, str]]:
    """Maximal runs of math tokens in `line`, with the words just before and after them."""
    runs: list[tuple[str, str, str]] = []
    position = 0
    while position < len(line):
        match = _PLAIN_TOKEN.match(line, position)
        if match is None:
            position += 1
            continue
        start = position
        while match is not None:
            position = match.end()
            match = _PLAIN_TOKEN.match(line, position)
        run = line[start:position]
        if run.strip():
            before = line[max(start - _CONTEXT, 0) : start]
            after = line[position : position + _CONTEXT]
            runs.append(
                (
                    run,
                    _GLUED if _glued_before(before, run) else _last_word(before),
                    _GLUED if _glued_after(after, run) else _first_word(after),
                )
            )
    return runs


def _glued_before(before: str, run: str) -> bool:
    """Text before a run that makes its first number part of something else.

    `1,5` (a decimal comma), `3 : 4` (a ratio), `√16` or `5²` (notation we do not read).
    """
    if not run[0].isspace() and re.search(r"\d[.,]$", before):
        return True
    stripped = before.rstrip()
    ratio = re.search(r"(?:(\S+)\s+)?\d+\s*:$", stripped)
    if ratio is not None and ratio.group(1) and ratio.group(1).lower() not in _LABELS:
        return True  # "is 3 : 4"; but "Step 3: ..." and a leading "3: ..." label the line
    return bool(stripped) and not stripped[-1].isascii()


def _glued_after(after: str, run: str) -> bool:
    """Text after a run that changes its last number: `= 1,5`, `= 5²`, `= 3:1`."""
    if not run[-1].isspace() and re.match(r"[.,:]\d", after):
        return True
    return bool(after) and not after[0].isspace() and not after[0].isascii()


def _plain_to_latex(run: str) -> str:
    run = re.sub(r"(\d)\s+[xX]\s+(?=\d)", r"\1 \\times ", run)
    run = run.replace("\u00d7", " \\times ").replace("\u00f7", " \\div ")
    run = run.replace("\u00b7", " \\cdot ")
    run = run.replace("%", "\\%").replace("≈", " \\approx ")
    return re.sub(r"(\d),(\d{3})", r"\1\2", run)
