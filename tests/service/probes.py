"""Small verifiers whose behaviour the engine and HTTP tests control exactly.

They stand in for a domain checker (sleeping, crashing, dying) so the tests can
exercise the real engine's deadlines and failure handling deterministically.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from pydantic import BaseModel

from rewardgate.verifiers import Verdict, Verifier, VerifierError, VerifierOptions


class EchoReference(BaseModel):
    answer: str


class Echo(Verifier[EchoReference, VerifierOptions]):
    """Reward 1 when the response equals the reference's answer."""

    name = "echo"
    version = "1"
    Reference = EchoReference

    def judge(self, response: str, reference: EchoReference, options: VerifierOptions) -> Verdict:
        return Verdict(reward=float(response == reference.answer), details={"pid": os.getpid()})


class SleepReference(BaseModel):
    seconds: float = 0.0
    pidfile: str | None = None


class Sleepy(Verifier[SleepReference, VerifierOptions]):
    """Writes its worker's pid (so a test can kill it), sleeps, then rewards 1."""

    name = "sleepy"
    version = "1"
    Reference = SleepReference
    cacheable = False

    def judge(self, response: str, reference: SleepReference, options: VerifierOptions) -> Verdict:
        if reference.pidfile:
            Path(reference.pidfile).write_text(str(os.getpid()))
        time.sleep(reference.seconds)
        return Verdict(reward=1.0, details={"pid": os.getpid()})


class Faulty(Verifier[SleepReference, VerifierOptions]):
    """Breaks as the response says: a bug, a tool failure, or the worker dying."""

    name = "faulty"
    version = "1"
    lowest_reward = -1.0
    cacheable = False

    def health(self) -> dict[str, str]:
        return {"tool": "not installed: apt-get install the-tool"}

    def judge(self, response: str, reference: SleepReference, options: VerifierOptions) -> Verdict:
        if response == "bug":
            raise ZeroDivisionError("division by zero")
        if response == "tool":
            raise VerifierError("the checker's tool is missing")
        if response == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        return Verdict(reward=0.5)


PROBES: tuple[type[Verifier], ...] = (Echo, Sleepy, Faulty)
