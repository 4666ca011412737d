"""Function tests in C#: MultiPL-E's suites (a `Main` full of `Debug.Assert`, in the class
the prompt opened), with the response, as one program.

The suite's `Debug.Assert(` and `Trace.Assert(` calls become calls of a class of ours
that ends the process with an `AssertionError` on a false condition, so a response
that clears the trace listeners (or builds without DEBUG) disarms nothing. The build
names our own entry class (`mcs -main:RewardgateEntry`), which runs the suite's `Main`
and then prints the per-request nonce: a response that calls `Environment.Exit(0)`
never prints it.
"""

from __future__ import annotations

import re

__all__ = ["ENTRY_CLASS", "assemble_csharp", "guard_suite"]

ENTRY_CLASS = "RewardgateEntry"
_ASSERT = re.compile(r"\b(?:System\.Diagnostics\.)?(?:Debug|Trace)\.Assert\s*\(")
_MAIN = re.compile(r"\bstatic\s+(?:(?:public|private|internal|async)\s+)*(?:void|int)\s+Main\s*\(")
_TYPE = re.compile(r"\b(?:class|struct)\s+(\w+)")

_SUPPORT = """
static class RewardgateAssert {
    public static void Check(bool condition, string message = "", string detail = "") {
        if (condition) return;
        System.Console.Out.Flush();
        System.Console.Error.WriteLine("AssertionError: " + message + " " + detail);
        System.Console.Error.Flush();
        System.Environment.Exit(1);
    }
}
"""


def guard_suite(suite: str) -> str:
    """The suite with its asserts pointed at ours."""
    return _ASSERT.sub("RewardgateAssert.Check(", suite)


def assemble_csharp(source: str, blanked: str) -> str:
    """`source` (response + suite, `blanked` the same with comments and literals
    blanked) with our assert class and entry point; the suite's `Main` is the last."""
    mains = list(_MAIN.finditer(blanked))
    if not mains:
        raise ValueError("no Main in the C# test program")
    main = mains[-1]
    types = [m.group(1) for m in _TYPE.finditer(blanked) if m.start() < main.start()]
    owner = types[-1] if types else "Problem"
    entry = f"""
static class {ENTRY_CLASS} {{
    static void Main(string[] rewardgateArgs) {{
        var flags = System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public
            | System.Reflection.BindingFlags.NonPublic;
        var main = typeof({owner}).GetMethod("Main", flags);
        try {{
            var args = main.GetParameters().Length == 0 ? null : new object[] {{ new string[0] }};
            main.Invoke(null, args);
        }} catch (System.Reflection.TargetInvocationException e) {{
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
        }}
        System.Console.Out.Flush();
        System.Console.Write("\\n" + rewardgateArgs[1] + "\\n");
        System.Console.Out.Flush();
    }}
}}
"""
    return source + "\n" + _SUPPORT + entry
