"""Function tests in Verilog: a testbench (`test_code`) with the response's modules.

SandboxFusion's (and VerilogEval's) shape: the testbench module `tb` instantiates the
response's `top_module` (and a reference module), drives it, and ends with `$finish`;
VerilogEval's testbenches print `Mismatches: N in M samples`. With a `prompt` (the
module header, VerilogEval's `code_preface`) the response is the module body, unless
it restates `module NAME` itself (a whole module).

The build elaborates only the testbench's root (`tb`, else the test code's last
module) and a module of ours, so a response's own unused modules never run. The
testbench's `$finish` and `$stop` calls become a task of ours that prints the
per-request nonce (a `+rewardgate_nonce=` plusarg at run time) first: a response that
calls `$finish` itself ends the simulation before it. A test passes when vvp exits 0,
the nonce was printed, and no `$error` or mismatch was reported.
"""

from __future__ import annotations

import re

__all__ = ["NONCE_PLUSARG", "SCANNER", "assemble_verilog", "verilog_failure", "with_header"]

NONCE_PLUSARG = "rewardgate_nonce"
SCANNER = re.compile(r'//[^\n]*|/\*.*?(?:\*/|\Z)|"(?:\\.|[^"\\\n])*"', re.DOTALL)
_MODULE = re.compile(r"\b(?:module|macromodule)\s+(\w+)")
_FINISH = re.compile(r"\$(?:finish|stop)\b(\s*\([^)]*\))?")
_MISMATCH = re.compile(r"^Mismatches:\s*(\d+)\s+in\s+\d+\s+samples", re.M)

_NONCE_MODULE = f"""
module rewardgate_nonce;
  reg [255:0] nonce;
  task finish;
    begin
      if (!$value$plusargs("{NONCE_PLUSARG}=%s", nonce)) nonce = 0;
      $display("\\n%0s", nonce);
      $fflush;
      $finish;
    end
  endtask
endmodule
"""


def _blank(source: str) -> str:
    return SCANNER.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), source)


def with_header(prompt: str, response: str) -> str:
    """The response as a whole module: itself when it declares the prompt's module,
    else the prompt (the module header) followed by it."""
    declared = _MODULE.search(_blank(prompt))
    if declared and re.search(rf"\bmodule\s+{declared.group(1)}\b", _blank(response)):
        return response
    return f"{prompt}\n{response}"


def assemble_verilog(program: str, test_code: str) -> str:
    """One source: the roots line, the testbench with its `$finish`es ours, our module,
    then the response."""
    code = _blank(test_code)
    modules = [m.group(1) for m in _MODULE.finditer(code)]
    if not modules:
        raise ValueError("no module in the Verilog testbench")
    root = "tb" if "tb" in modules else modules[-1]
    for match in reversed(list(_FINISH.finditer(code))):
        test_code = (
            test_code[: match.start()] + "rewardgate_nonce.finish" + test_code[match.end() :]
        )
    return (
        f"// rewardgate-roots: {root} rewardgate_nonce\n{test_code}\n{_NONCE_MODULE}\n{program}\n"
    )


def verilog_failure(stdout: str) -> str:
    """Why the testbench says the design failed (`$error`, mismatches), or ""."""
    for line in stdout.splitlines():
        if line.startswith(("ERROR:", "FATAL:")):
            return line
    # Every report counts: a design may print a passing one of its own first.
    for mismatch in _MISMATCH.finditer(stdout):
        if int(mismatch.group(1)) != 0:
            return mismatch.group(0)
    return ""
