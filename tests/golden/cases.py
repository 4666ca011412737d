"""The requests whose verdicts are pinned in tests/golden/<verifier>.json.

A few per verifier, each a different path through it (right, wrong, unparsable,
invalid), cheap enough to replay on every test run. Add a case here, then regenerate
the file (see `tests/golden/golden.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data"
ICON = (DATA / "svg" / "simple-icons" / "alacritty.svg").read_text()

PYTHON_ADD = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
CPP_ADD = "```cpp\nint add(int a, int b) { return a + b; }\n```"

SQUARE = {"data": {"x": [1, 2, 3, 4, 5], "y": [2, 8, 18, 32, 50]}, "target": "2*x^2"}

CASES: dict[str, list[dict[str, Any]]] = {
    "math": [
        {"response": "\\boxed{\\frac{1}{2}}", "reference": "0.5"},
        {"response": "The answer is 41.", "reference": "42"},
        {"response": "\\boxed{x > 2}", "reference": "(2, \\infty)"},
        {"response": "\\boxed{1, 3, 5}", "reference": "5, 3, 1"},
        {"response": "\\boxed{15}", "reference": "1, 3, 5, 15"},
        {"response": "\\boxed{-3x^2 + 1}", "reference": "-3*x**2 + 1"},
        {"response": "\\boxed{-3x^2 + 2}", "reference": "-3*x**2 + 1"},
        {"response": "\\boxed{B}", "reference": "B"},
        {"response": "\\boxed{7,425,000}", "reference": "7425000"},
        {"response": "\\boxed{1}", "reference": "0,500"},
    ],
    "math_steps": [
        {"response": "Step 1: $2+2=4$.\nStep 2: so the answer is \\boxed{4}.", "reference": "4"},
        {"response": "Step 1: $2+2=5$.\nStep 2: so the answer is \\boxed{5}.", "reference": "4"},
    ],
    "code": [
        {
            "response": PYTHON_ADD,
            "reference": {"tests": [{"stdin": "1 2", "expected_stdout": "3"}]},
            "options": {"backend": "bwrap"},
        },
        {
            "response": PYTHON_ADD.replace("a + b", "a - b"),
            "reference": {"tests": [{"stdin": "1 2", "expected_stdout": "3"}]},
            "options": {"backend": "bwrap"},
        },
        {
            "response": CPP_ADD,
            "reference": {"language": "cpp", "asserts": ["assert(add(1, 2) == 3);"]},
            "options": {"backend": "bwrap"},
        },
        {
            "response": "```cpp\nint add(int a, int b) { return a + b }\n```",
            "reference": {"language": "cpp", "asserts": ["assert(add(1, 2) == 3);"]},
            "options": {"backend": "bwrap"},
        },
        {
            "response": "def add(a, b):\n    return a + b",
            "reference": {"asserts": ["assert add(1, 2) == 3"]},
            "options": {"backend": "bwrap"},
        },
    ],
    "sql": [
        {
            "response": "SELECT COUNT(*) FROM Artist",
            "reference": {"gold_sql": "SELECT COUNT(*) FROM Artist", "db": "chinook.sqlite"},
        },
        {
            "response": "SELECT COUNT(*) FROM Album",
            "reference": {"gold_sql": "SELECT COUNT(*) FROM Artist", "db": "chinook.sqlite"},
        },
        {
            "response": "DROP TABLE Artist",
            "reference": {"gold_sql": "SELECT COUNT(*) FROM Artist", "db": "chinook.sqlite"},
        },
    ],
    "svg": [
        {"response": ICON, "reference": {"target_svg": ICON}},
        {
            "response": '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
            '<rect width="24" height="24"/></svg>',
            "reference": {"target_svg": ICON},
        },
    ],
    "compose": [
        {
            "response": "<think>ok</think> \\boxed{4}",
            "reference": "4",
            "options": {
                "children": [
                    {"name": "answer", "verifier": "math", "weight": 0.9},
                    {
                        "name": "form",
                        "verifier": "format",
                        "weight": 0.1,
                        "options": {"pattern": "^<think>.*</think>"},
                    },
                ]
            },
        },
    ],
    "format": [
        {"response": "<think>x</think> y", "options": {"pattern": "^<think>.*</think>"}},
        {"response": "y", "options": {"pattern": "^<think>.*</think>"}},
    ],
    "length": [
        {"response": "word " * 50, "options": {"unit": "words", "max_len": 60, "buffer": 20}},
        {"response": "word " * 10, "options": {"unit": "words", "max_len": 60, "buffer": 20}},
    ],
    "repetition": [
        {"response": "the same line\n" * 20},
        {"response": "one two three four five six seven eight nine ten"},
    ],
    "string": [
        {"response": "Paris", "reference": "paris"},
        {"response": "Lyon", "reference": "paris"},
    ],
    "qa": [
        {
            "response": "<answer>The City of Light!</answer>",
            "reference": ["Paris", "city of light"],
        },
        {
            "response": "<answer>Paris, France</answer>",
            "reference": "Paris",
            "options": {"metric": "f1"},
        },
        {"response": "no tags at all", "reference": "Paris"},
        {
            "response": "<think>a</think>x<answer>Paris</answer>",
            "reference": {"target": ["Paris"]},
            "options": {"preset": "search_r1_format"},
        },
        {"response": "<answer>Paris</answer>", "reference": []},
    ],
    "preference": [
        {"response": "<answer>[[A]]</answer>", "reference": "A"},
        {"response": "<answer>[[A]] or [[B]]</answer>", "reference": "A"},
        {"response": "<answer>[[3, 8]]</answer>", "reference": {"preferred": "model_b"}},
        {"response": "<answer>[[B]]</answer>", "reference": "A", "options": {"preset": "rm_r1"}},
        {"response": "[[A]]", "reference": "Z"},
    ],
    "grounding": [
        {"response": "<answer>[0, 0, 5, 10]</answer>", "reference": [0, 0, 10, 10]},
        {
            "response": "<answer>[[0, 0, 10, 10], [50, 50, 60, 60]]</answer>",
            "reference": {"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]]},
            "options": {"task": "detection"},
        },
        {"response": "<answer>[NaN, 0, 1, 1]</answer>", "reference": [0, 0, 10, 10]},
        {
            "response": "<answer>3 dogs</answer>",
            "reference": {"count": 3},
            "options": {"task": "count"},
        },
        {"response": "[1, 2, 3, 4]", "reference": {"boxes": [[0, 0, 1]]}},
    ],
    "symbolic_regression": [
        {"response": "y = 2*x**2", "reference": SQUARE},
        {"response": "\\boxed{x^2 + 1}", "reference": SQUARE, "options": {"metric": "inv_nmse"}},
        {"response": "1/(x - 3)", "reference": SQUARE},
        {"response": "__import__('os')", "reference": SQUARE},
        {"response": "2*x**2", "reference": {"data": {"x": [1, 2], "y": [1]}}},
    ],
}

BAR = (
    "import matplotlib.pyplot as plt\n"
    "plt.bar(['a', 'b', 'c'], [3, 1, 2], color='tab:blue')\n"
    "plt.title('Sales')\n"
)
PAGE = "<html><body><h1>Title</h1><p>Hello <b>world</b></p></body></html>"
BOX = "import cadquery as cq\nresult = cq.Workplane('XY').box(10, 10, 10)\n"

CASES.update(
    {
        "chart": [
            {"response": f"```python\n{BAR}```", "reference": {"target_code": BAR}},
            {
                "response": f"```python\n{BAR.replace('bar(', 'barh(')}```",
                "reference": {"target_code": BAR},
                "options": {"preset": "chartmimic"},
            },
            {"response": "no code here", "reference": {"target_code": BAR}},
        ],
        "web": [
            {"response": f"```html\n{PAGE}```", "reference": {"target_html": PAGE}},
            {
                "response": f"```html\n{PAGE.replace('world', 'there')}```",
                "reference": {"target_html": PAGE},
                "options": {"blocks": "design2code"},
            },
        ],
        "cad": [
            {"response": f"```python\n{BOX}```", "reference": {"reference_code": BOX}},
            {
                "response": f"```python\n{BOX.replace('10, 10, 10', '10, 10, 12')}```",
                "reference": {"reference_code": BOX},
            },
        ],
    }
)

CALC = "def add(a, b):\n    return a + b\n\n\ndef divide(a, b):\n    return a / b\n"
CALC_TESTS = (
    "import unittest\n\nfrom calc import add, divide\n\n\nclass T(unittest.TestCase):\n"
    "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n"
    "    def test_zero(self):\n        with self.assertRaises(ValueError):\n"
    "            divide(1, 0)\n"
)
CALC_ORACLE = (
    "--- a/calc.py\n+++ b/calc.py\n@@ -3,4 +3,6 @@\n \n \n def divide(a, b):\n"
    "+    if b == 0:\n+        raise ValueError('b is zero')\n     return a / b\n"
)
CALC_FIX = (
    "<think>\nguard divide\n</think>\n<solution>\n```python\n### calc.py\n<<<<<<< SEARCH\n"
    "    return a / b\n=======\n    if b == 0:\n        raise ValueError('b is zero')\n"
    "    return a / b\n>>>>>>> REPLACE\n```\n</solution>"
)
CALC_REF = {
    "files": {"calc.py": CALC, "test_calc.py": CALC_TESTS},
    "oracle_patch": CALC_ORACLE,
    "fail_to_pass": ["test_calc.T.test_zero"],
    "pass_to_pass": ["test_calc.T.test_add"],
}

CASES["patch"] = [
    {"response": CALC_FIX, "reference": CALC_REF},
    {
        "response": CALC_FIX.replace("ValueError('b is zero')", "ZeroDivisionError"),
        "reference": CALC_REF,
    },
    {
        "response": CALC_FIX.replace("    return a / b\n=", "    return b / a\n="),
        "reference": CALC_REF,
    },
    {"response": CALC_FIX.replace("<think>\nguard divide\n</think>\n", ""), "reference": CALC_REF},
    {"response": CALC_FIX.replace("### calc.py", "### ../calc.py"), "reference": CALC_REF},
    {"response": CALC_FIX, "reference": {"files": {"calc.py": CALC}}},
    {
        "response": CALC_FIX,
        "reference": CALC_REF,
        "options": {"mode": "execution", "backend": "bwrap"},
    },
    {
        "response": CALC_FIX.replace("ValueError('b is zero')", "ZeroDivisionError"),
        "reference": CALC_REF,
        "options": {"mode": "execution", "backend": "bwrap"},
    },
]
