"""Verilog's function tests: a VerilogEval-shaped testbench (`test_code`, module `tb`
with a reference module and `Mismatches: N in M samples`) and the module header as
`prompt`, as SandboxFusion runs them; the hacks on both backends; `/run_code` with
SandboxFusion's own build (`-g2012 -s tb`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from rewardgate.verifiers.code import CodeVerifier
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.models import RewardRequest, RewardResult

VERIFIER = CodeVerifier()

TESTBENCH = """\
`timescale 1 ps/1 ps
module reference_module(input [3:0] a, input [3:0] b, output [4:0] sum);
  assign sum = a + b;
endmodule

module tb();
  reg [3:0] a, b;
  wire [4:0] sum_ref, sum_dut;
  integer errors = 0, samples = 0, i;
  reference_module good1(.a(a), .b(b), .sum(sum_ref));
  top_module top_module1(.a(a), .b(b), .sum(sum_dut));
  initial begin
    for (i = 0; i < 256; i = i + 1) begin
      {a, b} = i;
      #1;
      samples = samples + 1;
      if (sum_dut !== sum_ref) errors = errors + 1;
    end
    #1 $finish;
  end
  final $display("Mismatches: %1d in %1d samples", errors, samples);
endmodule
"""
HEADER = "module top_module(\n\tinput [3:0] a,\n\tinput [3:0] b,\n\toutput [4:0] sum\n);\n"
RIGHT = "\tassign sum = a + b;\nendmodule\n"
WRONG = "\tassign sum = a - b;\nendmodule\n"
ANSWERS = {
    "right": (RIGHT, "passed"),
    "wrong": (WRONG, "wrong_answer"),
    "whole_right": (HEADER + RIGHT, "passed"),
    "whole_wrong": (HEADER + WRONG, "wrong_answer"),
    "compile_error": ("\tassign sum = a +;\nendmodule\n", "compile_error"),
    "endless": ("\tassign sum = a + b;\n\tinitial forever #0 ;\nendmodule\n", "time_limit"),
}
# Wrong designs that try to pass: ending the simulation before the testbench does,
# a module of their own that reports a pass (never elaborated: not the testbench's),
# a passing report printed first, `$stop`, and `$fatal` with exit status 0.
HACKS = {
    "finish_early": "\tassign sum = a - b;\n\tinitial $finish;\nendmodule\n",
    "stop_early": "\tassign sum = a - b;\n\tinitial #1 $stop;\nendmodule\n",
    "own_root": WRONG
    + 'module hack;\n  initial begin\n    $display("Mismatches: 0 in 256 samples");'
    "\n    $finish;\n  end\nendmodule\n",
    "report_first": '\tassign sum = a - b;\n\tinitial $display("Mismatches: 0 in 256 samples");'
    "\nendmodule\n",
    "fatal_zero": '\tassign sum = a - b;\n\tinitial #2 $fatal(0, "done");\nendmodule\n',
}


def judge(response: str, reference: dict[str, Any], backend: str = "bwrap") -> RewardResult:
    request = RewardRequest(
        verifier="code",
        response=response,
        reference={"language": "verilog", **reference},
        options={"backend": backend, "time_limit_s": 5},
    )
    return VERIFIER.verify(request)


def labels(result: RewardResult) -> list[str]:
    return [s.label for s in result.steps or []]


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_testbench_verdicts(answer: str) -> None:
    response, label = ANSWERS[answer]
    result = judge(response, {"prompt": HEADER, "test_code": TESTBENCH})
    assert result.status == "ok", result
    assert labels(result) == [label], result.details


def test_mismatches_are_the_message() -> None:
    result = judge(WRONG, {"prompt": HEADER, "test_code": TESTBENCH})
    assert result.details["failures"][0]["message"].startswith("Mismatches: 240 in 256")


def test_error_task_is_a_wrong_answer() -> None:
    """A testbench that says so with `$error` (and exits 0) fails the design."""
    bench = TESTBENCH.replace("errors = errors + 1;", '$error("sum %0d", sum_dut);')
    assert labels(judge(WRONG, {"prompt": HEADER, "test_code": bench})) == ["wrong_answer"]
    assert labels(judge(RIGHT, {"prompt": HEADER, "test_code": bench})) == ["passed"]


def test_testbench_without_tb_uses_its_last_module() -> None:
    bench = TESTBENCH.replace("module tb();", "module check_adder;")
    assert labels(judge(RIGHT, {"prompt": HEADER, "test_code": bench})) == ["passed"]


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
@pytest.mark.parametrize("hack", list(HACKS))
def test_hacks_score_zero(hack: str, backend: str) -> None:
    result = judge(HACKS[hack], {"prompt": HEADER, "test_code": TESTBENCH}, backend)
    assert result.status == "ok", result
    assert result.reward == 0.0, result.details


def test_function_test_on_docker() -> None:
    reference = {"prompt": HEADER, "test_code": TESTBENCH}
    assert labels(judge(RIGHT, reference, "docker")) == ["passed"]
    assert labels(judge(WRONG, reference, "docker")) == ["wrong_answer"]


@pytest.mark.parametrize(
    ("reference", "words"),
    [
        ({"asserts": ["x"]}, "not asserts"),
        ({"test_code": "initial $finish;"}, "no module"),
    ],
)
def test_refused_references(reference: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidRequest, match=words):
        judge("x", reference)


def test_run_code_builds_as_sandbox_fusion(make_client: Callable[..., TestClient]) -> None:
    """SandboxFusion's VerilogEval request: testbench + header + completion in one
    program, `tb` the only root (another module of the program never runs); success is
    vvp's exit status, as there. A program without `tb` keeps its own roots."""
    client = make_client(sandbox_backend="bwrap")
    other = 'module other;\n  initial $display("other root");\nendmodule\n'
    body = {"code": TESTBENCH + HEADER + RIGHT + other, "language": "verilog", "run_timeout": 20}
    answer = client.post("/run_code", json=body).json()
    assert answer["status"] == "Success", answer
    assert answer["run_result"]["stdout"] == "Mismatches: 0 in 256 samples\n", answer
    alone = client.post("/run_code", json={**body, "code": other}).json()
    assert alone["run_result"]["stdout"] == "other root\n", alone
