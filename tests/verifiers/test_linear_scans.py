"""Readers of model text that replace the papers' lazy regexes: the same spans, in one pass.

`(.*?)` between an opening and a closing is quadratic on many unclosed openings (100 KB
of `<answer>` took 30 s, of `url('` 100 s): a policy under RL finds such inputs. Each
scan must read what the regex reads on every input.
"""

from __future__ import annotations

import random
import re

from rewardgate.verifiers.sql.extract import check_format
from rewardgate.verifiers.svg.sanitise import css_urls

CSS_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.IGNORECASE | re.DOTALL)
CSS_PIECES = ["url(", "URL(", "'", '"', ")", " ", "\n", "a", "#x", "rl(", "(", "url( '", "data:"]


def test_css_urls_read_what_the_regex_reads() -> None:
    rng = random.Random(5)
    for _ in range(50_000):
        text = "".join(rng.choice(CSS_PIECES) for _ in range(rng.randint(0, 12)))
        assert css_urls(text) == [m.group(2) for m in CSS_URL.finditer(text)], text


def test_css_urls_on_many_unclosed_openings() -> None:
    assert css_urls("url('" * 200_000) == []
    assert css_urls("url(" * 200_000) == []
    assert css_urls("url('" * 200_000 + "')") == ["url('" * 199_999]


def test_sql_r1_format_reads_the_regexs_spans() -> None:
    answer = re.compile(r"<answer>(.*?)</answer>", re.S)
    think = re.compile(r"<think>(.*?)</think>", re.S)
    rng = random.Random(11)
    pieces = ["<think>", "</think>", "<answer>", "</answer>", "x", "SELECT 1", " ", "\n"]
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        answers, thinks = answer.findall(text), think.findall(text)
        got = check_format(text)
        assert got.answer == (answers[-1].strip() if answers else ""), text
        assert got.think == (thinks[-1].strip() if thinks else ""), text


def test_sql_r1_format_on_many_unclosed_tags() -> None:
    got = check_format("<think>" * 100_000 + "<answer>" * 100_000)
    assert not got.ok


def test_native_scanners_on_unclosed_openings() -> None:
    """The compiled languages' scanners blank comments and raw strings; an unclosed one
    runs to the end (as the compiler reads it), read in one pass."""
    from rewardgate.verifiers.code import native

    for scanner in (native._C_LIKE, native._RUST, native._GO, native._JS):
        spans = [m.span() for m in scanner.finditer("int x; /* " * 20_000)]
        assert spans == [(7, 200_000)]
    assert [m.span() for m in native._RUST.finditer('let s = r#" ' * 20_000)] == [(8, 240_000)]
    assert [m.group() for m in native._C_LIKE.finditer("a /* b */ c")] == ["/* b */"]


def test_verltool_blocks_read_what_its_regexes_read() -> None:
    """VerlTool's action patterns (`<python>(.*?)</python>`, "```\\s*(?:bash|sh|shell)(.*?)```"
    ...), served by /get_observation: the same blocks in one pass."""
    from rewardgate.service.routes.verltool import _BASH, _PYTHON, blocks_between

    rng = random.Random(3)
    pieces = ["<python>", "</python>", "<bash>", "</bash>", "```", "```python", "```\npython"]
    pieces += ["```py", "``` bash", "```sh", "```shell", "```terminal", "\n", " ", "x", "`"]
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        for opening, closing in _PYTHON + _BASH:
            expected = re.findall(opening + "(.*?)" + re.escape(closing), text, re.DOTALL)
            assert blocks_between(text, re.compile(opening), closing) == expected, text
    assert blocks_between("<python>" * 50_000, re.compile("<python>"), "</python>") == []
