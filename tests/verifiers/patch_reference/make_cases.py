# ruff: noqa  (a script run outside the repository against SWE-RL; see README.md)
"""Runs SWE-RL's calculate_search_replace_reward over hand-written cases; writes cases.json.

Run from /tmp/swerl: PYTHONHASHSEED=0 venv/bin/python gen/gen.py OUT.json
"""

import json, os, subprocess, sys, tempfile

sys.path.insert(0, "/tmp/swerl")
from reward import calculate_search_replace_reward  # type: ignore[import-not-found]  # noqa: I001

CALC = '''"""Small arithmetic helpers."""


def add(a, b):
    return a + b


def subtract(a, b):
    return a - b


def divide(a, b):
    return a / b


def mean(values):
    total = 0
    for v in values:
        total = add(total, v)
    return total / len(values)
'''
UTIL = """import os


def read(path):
    with open(path) as f:
        return f.read()


def exists(path):
    return os.path.exists(path)
"""
NONL = "def greet(name):\n    return 'hi ' + name"
CRLF = "x = 1\r\ny = 2\r\nz = x + y\r\n"
UNI = "# héllo wörld\nGREETING = 'こんにちは'\n\ndef say():\n    return GREETING\n"
BIG = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(30))
CTX = {
    "pkg/calc.py": CALC,
    "pkg/util.py": UTIL,
    "greet.py": NONL,
    "crlf.py": CRLF,
    "uni.py": UNI,
    "big.py": BIG,
}

DIVIDE_FIX = CALC.replace(
    "    return a / b\n",
    '    if b == 0:\n        raise ZeroDivisionError("b is zero")\n    return a / b\n',
)
MEAN_FIX = CALC.replace(
    "    total = 0\n", "    if not values:\n        return 0.0\n    total = 0\n"
)
BOTH_FIX = DIVIDE_FIX.replace(
    "    total = 0\n", "    if not values:\n        return 0.0\n    total = 0\n"
)
UTIL_FIX = UTIL.replace(
    "    with open(path) as f:\n", '    with open(path, encoding="utf-8") as f:\n'
)


def block(path, search, replace, fence="```python"):
    return (
        f"{fence}\n### {path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n```"
    )


def wrap(answer, thought="The bug is in divide: it does not check b."):
    return f"<think>\n{thought}\n</think>\n<solution>\n{answer}\n</solution>"


DIV_BLOCK = block(
    "pkg/calc.py",
    "def divide(a, b):\n    return a / b",
    'def divide(a, b):\n    if b == 0:\n        raise ZeroDivisionError("b is zero")\n    return a / b',
)
MEAN_BLOCK = block(
    "pkg/calc.py", "    total = 0\n", "    if not values:\n        return 0.0\n    total = 0\n"
)
MEAN_BLOCK = block(
    "pkg/calc.py", "    total = 0", "    if not values:\n        return 0.0\n    total = 0"
)
UTIL_BLOCK = block(
    "pkg/util.py", "    with open(path) as f:", '    with open(path, encoding="utf-8") as f:'
)

cases = []


def case(name, oracle, output, note=""):
    cases.append({"name": name, "note": note, "oracle_new_content": oracle, "output": output})


O_DIV = {"pkg/calc.py": DIVIDE_FIX}
O_TWO = {"pkg/calc.py": BOTH_FIX, "pkg/util.py": UTIL_FIX}
case("right_single_edit", O_DIV, wrap(DIV_BLOCK))
case("right_multi_file", O_TWO, wrap("\n\n".join([DIV_BLOCK, MEAN_BLOCK, UTIL_BLOCK])))
case("partial_one_of_two_files", O_TWO, wrap("\n\n".join([DIV_BLOCK, MEAN_BLOCK])))
case("partial_one_of_two_hunks", O_TWO, wrap("\n\n".join([DIV_BLOCK, UTIL_BLOCK])))
case(
    "similar_but_different_fix",
    O_DIV,
    wrap(
        block(
            "pkg/calc.py",
            "    return a / b",
            "    if not b:\n        raise ValueError('division by zero')\n    return a / b",
        )
    ),
)
case("wrong_file", O_DIV, wrap(UTIL_BLOCK))
case("right_plus_extra_file", O_DIV, wrap(DIV_BLOCK + "\n\n" + UTIL_BLOCK))
case(
    "malformed_no_divider",
    O_DIV,
    wrap(
        "```python\n### pkg/calc.py\n<<<<<<< SEARCH\n    return a / b\n    if b == 0: raise\n>>>>>>> REPLACE\n```"
    ),
)
case(
    "malformed_no_fence",
    O_DIV,
    wrap(
        "### pkg/calc.py\n<<<<<<< SEARCH\n    return a / b\n=======\n    return a / b if b else 0\n>>>>>>> REPLACE"
    ),
)
case(
    "malformed_no_path_line",
    O_DIV,
    wrap(
        "```python\n<<<<<<< SEARCH\n    return a / b\n=======\n    return a / b if b else 0\n>>>>>>> REPLACE\n```"
    ),
)
case(
    "malformed_short_markers",
    O_DIV,
    wrap(
        "```python\n### pkg/calc.py\n<<<< SEARCH\n    return a / b\n====\n    return a / b if b else 0\n>>>> REPLACE\n```"
    ),
)
case(
    "unappliable_search",
    O_DIV,
    wrap(
        block(
            "pkg/calc.py",
            "def divide(x, y):\n    return x / y",
            "def divide(x, y):\n    return x / y if y else 0",
        )
    ),
)
case(
    "unappliable_indentation",
    O_DIV,
    wrap(block("pkg/calc.py", "  return a / b", "  return a / b if b else 0")),
)
case("empty_response", O_DIV, "")
case("no_think_tags", O_DIV, "<solution>\n" + DIV_BLOCK + "\n</solution>")
case("no_tags_at_all", O_DIV, DIV_BLOCK)
case(
    "two_think_blocks",
    O_DIV,
    "<think>\na\n</think>\n<think>\nb\n</think>\n<solution>\n" + DIV_BLOCK + "\n</solution>",
)
case("empty_thought", O_DIV, "<think>\n  \n</think>\n<solution>\n" + DIV_BLOCK + "\n</solution>")
case("empty_solution", O_DIV, wrap(""))
case(
    "search_equals_replace",
    O_DIV,
    wrap(block("pkg/calc.py", "    return a / b", "    return a / b")),
)
case(
    "trailing_whitespace_in_replace",
    O_DIV,
    wrap(
        block(
            "pkg/calc.py",
            "def divide(a, b):\n    return a / b",
            'def divide(a, b):  \n    if b == 0:\n        raise ZeroDivisionError("b is zero")  \n    return a / b',
        )
    ),
)
case(
    "search_repeated_replaces_all",
    {"pkg/calc.py": CALC.replace("    return a + b\n", "    return b + a\n")},
    wrap(block("pkg/calc.py", "    return a", "    return b")),
    "str.replace changes every occurrence",
)
case(
    "sequential_blocks_same_file",
    {"pkg/calc.py": MEAN_FIX},
    wrap(
        block("pkg/calc.py", "    total = 0", "    total = 0.0")
        + "\n"
        + block(
            "pkg/calc.py",
            "    total = 0.0",
            "    if not values:\n        return 0.0\n    total = 0",
        )
    ),
)
case(
    "edits_cancel_out",
    O_DIV,
    wrap(
        block("pkg/calc.py", "    return a / b", "    return a // b")
        + "\n"
        + block("pkg/calc.py", "    return a // b", "    return a / b")
    ),
)
case(
    "new_file_created",
    {"pkg/consts.py": "PI = 3.14159\nE = 2.71828\n"},
    wrap(block("pkg/consts.py", "", "PI = 3.14159\nE = 2.71828\n")),
)
case(
    "new_file_wrong_content",
    {"pkg/consts.py": "PI = 3.14159\nE = 2.71828\n"},
    wrap(block("pkg/consts.py", "", "PI = 3.14\n")),
)
case(
    "deletion_block",
    {"pkg/calc.py": CALC.replace("\n\ndef subtract(a, b):\n    return a - b\n", "")},
    wrap(block("pkg/calc.py", "def subtract(a, b):\n    return a - b\n\n\n", "")),
)
case(
    "fence_plain_and_diff",
    O_TWO,
    wrap(
        "\n".join(
            [
                block(
                    "pkg/calc.py",
                    "def divide(a, b):\n    return a / b",
                    'def divide(a, b):\n    if b == 0:\n        raise ZeroDivisionError("b is zero")\n    return a / b',
                    "```",
                ),
                block(
                    "pkg/calc.py",
                    "    total = 0",
                    "    if not values:\n        return 0.0\n    total = 0",
                    "```diff",
                ),
                UTIL_BLOCK,
            ]
        )
    ),
)
case(
    "dot_slash_path",
    O_DIV,
    wrap(block("./pkg/calc.py", "    return a / b", "    return a / b if b else 0")),
)
case(
    "no_trailing_newline_file",
    {"greet.py": "def greet(name):\n    return f'hi {name}'"},
    wrap(block("greet.py", "    return 'hi ' + name", "    return f'hi {name}'")),
)
case(
    "no_trailing_newline_file_adds_one",
    {"greet.py": "def greet(name):\n    return f'hi {name}'"},
    wrap(block("greet.py", "    return 'hi ' + name", "    return f'hi {name}'\n")),
)
case(
    "oracle_unchanged_model_edits", {"pkg/calc.py": CALC}, wrap(DIV_BLOCK), "oracle changes nothing"
)
case(
    "two_hunks_far_apart",
    {
        "big.py": BIG.replace("    return x + 1\n", "    return x - 1\n").replace(
            "    return x + 28\n", "    return x - 28\n"
        )
    },
    wrap(
        block("big.py", "    return x + 1\n", "    return x - 1\n")
        + "\n"
        + block("big.py", "    return x + 28\n", "    return x - 28\n")
    ),
)
case(
    "two_hunks_one_right",
    {
        "big.py": BIG.replace("    return x + 1\n", "    return x - 1\n").replace(
            "    return x + 28\n", "    return x - 28\n"
        )
    },
    wrap(block("big.py", "    return x + 1\n", "    return x - 1\n")),
)
case(
    "crlf_file",
    {"crlf.py": CRLF.replace("z = x + y", "z = x * y")},
    wrap(block("crlf.py", "z = x + y", "z = x * y")),
)
case(
    "unicode_file",
    {"uni.py": UNI.replace("'こんにちは'", "'さようなら'")},
    wrap(block("uni.py", "GREETING = 'こんにちは'", "GREETING = 'さようなら'")),
)
case(
    "prose_around_blocks",
    O_DIV,
    wrap("Here is the fix.\n\n" + DIV_BLOCK + "\n\nThis guards against zero."),
)
case(
    "fences_inside_thought_ignored",
    O_DIV,
    wrap(DIV_BLOCK, thought="I might write\n" + UTIL_BLOCK + "\nbut no."),
)
case(
    "search_at_file_start",
    {"pkg/util.py": UTIL.replace("import os\n", "import os\nimport sys\n", 1)},
    wrap(block("pkg/util.py", "import os", "import os\nimport sys")),
)
case("search_mid_line_not_found", O_DIV, wrap(block("pkg/calc.py", "a / b", "a / b if b else 0")))
case(
    "search_line_prefix",
    O_DIV,
    wrap(block("pkg/calc.py", "    return a /", "    return a if b == 0 else a /")),
)
case(
    "path_trailing_space",
    O_DIV,
    wrap(block("pkg/calc.py ", "    return a / b", "    return a / b if b else 0")),
)
case(
    "empty_search_existing_file",
    {"greet.py": "def greet(name):\n    return f'hi {name}'"},
    wrap(block("greet.py", "", "# x")),
    "empty search matches every newline",
)
case("missing_closing_solution", O_DIV, "<think>\nfix\n</think>\n<solution>\n" + DIV_BLOCK)
case("unknown_file_nonempty_search", O_DIV, wrap(block("pkg/nothere.py", "x = 1", "x = 2")))
case(
    "replace_spans_more_lines",
    O_DIV,
    wrap(
        block(
            "pkg/calc.py",
            "def subtract(a, b):\n    return a - b\n\n\ndef divide(a, b):\n    return a / b",
            'def subtract(a, b):\n    return a - b\n\n\ndef divide(a, b):\n    if b == 0:\n        raise ZeroDivisionError("b is zero")\n    return a / b',
        )
    ),
)


def unified(old_name, new_name, old, new):
    with tempfile.TemporaryDirectory() as tmp:
        a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
        args = ["diff", "-u", "--label", old_name, "--label", new_name]
        if old is None:
            args.insert(2, "-N")
            a = os.path.join(tmp, "absent")
        else:
            open(a, "w", newline="").write(old)
        open(b, "w", newline="").write(new)
        out = subprocess.run(args + [a, b], capture_output=True)
        return out.stdout.decode()


for c in cases:
    parts = []
    for path, new in c["oracle_new_content"].items():
        old = CTX.get(path)
        if old == new:
            continue
        parts.append(unified("/dev/null" if old is None else f"a/{path}", f"b/{path}", old, new))
    c["oracle_patch"] = "".join(parts)
    reward, meta = calculate_search_replace_reward(CTX, c["oracle_new_content"], c["output"])
    c["swe_rl_reward"] = reward
    c["swe_rl_error"] = meta.get("error")
out = {"code_context": CTX, "cases": cases}
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
print(len(cases))
for c in cases:
    print(f"{c['name']:40} {c['swe_rl_reward']!r:22} {(c['swe_rl_error'] or '')[:50]}")
