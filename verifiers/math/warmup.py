"""Answers in the shapes trainers send, judged once in the gateway before workers fork.

The antlr parser behind math-verify builds its prediction tables (a DFA per grammar
decision) lazily and keeps them for the life of the process. Judging this corpus in
the gateway fills them for the common constructions, and every worker forked after
it, including the replacement of a killed one, starts with them filled. Each line is
(response, gold); the corpus is ours, written to cover the grammar, not taken from
any test set.
"""

from __future__ import annotations

__all__ = ["WARMUP"]

WARMUP: list[tuple[str, str]] = [
    ("so the answer is $\\boxed{\\frac{1}{2}}$", "0.5"),
    ("Thus $x \\in (2, \\infty)$, i.e. \\boxed{x > 2}", "(2, \\infty)"),
    ("The answer is 42.", "42"),
    ("Final answer: 7,425,000", "7425000"),
    ("$\\boxed{\\sqrt{2} + \\pi}$", "\\pi + \\sqrt{2}"),
    ("\\boxed{\\{1, 2, 3\\}}", "\\{3, 2, 1\\}"),
    ("We get $\\boxed{3x^2 - 2x + \\dfrac{7}{4}}$", "3x^2-2x+7/4"),
    ("\\boxed{\\text{(B)}}", "B"),
    ("$e^{i\\pi} = \\boxed{-1}$", "-1"),
    (
        "\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}",
        "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}",
    ),
    (
        "\\boxed{\\begin{bmatrix} 1 & 0 \\\\ 0 & 1 \\end{bmatrix}}",
        "\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}",
    ),
    ("so $a = 5$ and $b = \\boxed{12\\%}$", "12\\%"),
    ("The angle is $\\boxed{30^\\circ}$.", "30"),
    ("\\boxed{\\left( \\frac{1}{5}, \\frac{1}{6} \\right)}", "(\\frac{1}{5}, \\frac{1}{6})"),
    ("\\boxed{[-2, 7]}", "[-2,7]"),
    (
        "$x \\in \\left[-\\frac{3}{2}, -1\\right] \\cup \\left[1, \\frac{3}{2}\\right]$",
        "[-1.5,-1] \\cup [1,1.5]",
    ),
    ("\\boxed{(-\\infty, 3]}", "x \\le 3"),
    ("\\boxed{2 < x < 5}", "(2,5)"),
    ("\\boxed{x \\neq 1}", "x \\ne 1"),
    ("\\boxed{(1, 2), (2, 1)}", "(1,2),(2,1)"),
    ("\\boxed{a_{37} = 19}", "19"),
    ("\\boxed{y = -\\frac{1}{2}x + \\frac{3}{4}}", "y=-x/2+3/4"),
    ("\\boxed{2 \\sin b \\cos a}", "2\\cos a \\sin b"),
    ("\\boxed{\\log_2 8}", "3"),
    ("\\boxed{\\ln(e^2)}", "2"),
    ("\\boxed{\\binom{5}{2}}", "10"),
    ("\\boxed{5!}", "120"),
    ("\\boxed{\\sqrt[3]{27}}", "3"),
    ("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\cos(\\pi/6)"),
    ("\\boxed{\\tan^{-1}(1)}", "\\pi/4"),
    ("\\boxed{\\sin^2 x + \\cos^2 x}", "1"),
    ("\\boxed{|x - 3|}", "|3-x|"),
    ("\\boxed{\\infty}", "\\infty"),
    ("\\boxed{-\\infty}", "-\\infty"),
    ("\\boxed{\\emptyset}", "\\emptyset"),
    ("\\boxed{3 + 4i}", "3+4i"),
    ("\\boxed{\\overline{AB}}", "\\overline{AB}"),
    ("\\boxed{\\angle ABC = 90^\\circ}", "90"),
    ("\\boxed{\\$1,234.50}", "1234.5"),
    ("\\boxed{10 \\text{ cm}^2}", "10"),
    ("\\boxed{\\text{even}}", "\\text{even}"),
    ("\\boxed{\\mathbb{R}}", "\\mathbb{R}"),
    ("\\boxed{f(x) = x^2 + 1}", "x^2+1"),
    ("\\boxed{\\int_0^1 x \\, dx}", "1/2"),
    ("\\boxed{\\sum_{k=1}^{10} k}", "55"),
    ("\\boxed{\\lim_{x \\to 0} \\frac{\\sin x}{x}}", "1"),
    ("\\boxed{\\frac{d}{dx} x^3}", "3x^2"),
    ("\\boxed{\\gcd(12, 18)}", "6"),
    ("\\boxed{\\lfloor 3.7 \\rfloor}", "3"),
    ("\\boxed{\\lceil 3.2 \\rceil}", "4"),
    ("\\boxed{1.5 \\times 10^{3}}", "1500"),
    ("\\boxed{0.\\overline{3}}", "1/3"),
    ("\\boxed{\\dfrac{a+b}{c}}", "(a+b)/c"),
    ("\\boxed{x = 2, y = 3}", "x=2,y=3"),
    ("\\boxed{x^2 - 5x + 6 = 0}", "x^2-5x+6=0"),
    ("\\boxed{\\pm 2}", "\\pm 2"),
    ("\\boxed{\\{x \\mid x > 0\\}}", "(0,\\infty)"),
    ("\\boxed{\\begin{cases} 1 & x > 0 \\\\ 0 & x \\le 0 \\end{cases}}", "1"),
    ("\\boxed{\\vec{v} = \\langle 1, 2 \\rangle}", "(1,2)"),
    ("\\boxed{P(A) = 0.25}", "1/4"),
]
