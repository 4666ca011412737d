"""`supervise.readable`: select's answer for descriptors of any number.

A gateway holding a few hundred tool sessions (and their connections) hands out
descriptors past 1023, where `select.select` raises ValueError: every new session's
start failed so. These tests use such descriptors on purpose."""

from __future__ import annotations

import contextlib
import os
import socket

import pytest

from rewardgate.sandbox.supervise import readable


def _high_pipe(at: int) -> tuple[int, int]:
    r, w = os.pipe()
    high_r, high_w = os.dup2(r, at), os.dup2(w, at + 1)
    os.close(r)
    os.close(w)
    return high_r, high_w


def test_a_descriptor_past_select_s_ceiling_is_waited_on() -> None:
    import select

    r, w = _high_pipe(1500)
    try:
        with pytest.raises(ValueError):
            select.select([r], [], [], 0)  # what the callers used before
        assert readable([r], 0) == []
        assert readable([r], 0.2) == []  # waited, and nothing came
        os.write(w, b"x")
        assert readable([r], None) == [r]
        os.read(r, 1)
        os.close(w)
        assert readable([r], 5) == [r]  # end of file reads as ready, as with select
        assert os.read(r, 1) == b""
    finally:
        for fd in (r, w):
            with contextlib.suppress(OSError):
                os.close(fd)


def test_sockets_and_numbers_come_back_as_given() -> None:
    a, b = socket.socketpair()
    r, w = _high_pipe(1600)
    try:
        b.sendall(b"ping")
        os.write(w, b"y")
        assert readable([a], 1) == [a]
        assert sorted(readable([r, a.fileno()], 1)) == sorted([r, a.fileno()])
    finally:
        a.close()
        b.close()
        os.close(r)
        os.close(w)
