"""Hostile pages are contained: no network, no host file, loops and crashes are verdicts.

A listener on 127.0.0.1 counts every connection; a secret file sits on the host. Every
way a page can reach out (fetch, XHR, img, iframe, WebSocket, EventSource, beacon,
stylesheet, font, script src, prefetch, preconnect, ...) must leave the listener
untouched, because the browser runs where no network exists, not because requests are
filtered. Pages that loop, crash their renderer or navigate away get reward 0 with the
reason; the browser is replaced, its processes gone, and the next page scores as usual,
in-process, through the engine and through the HTTP app. The containment cases run on
both backends: the docker one is what the compose deployment uses.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rewardgate.verifiers.models import RewardRequest, RewardResult
from rewardgate.verifiers.web import WebVerifier
from rewardgate.verifiers.web.browser import browser_manager
from tests.listener import Listener
from tests.verifiers.web_support import page

SECRET = "s3cr3t-7d41a9e0"
TARGET = page("landing")
PROBE = "<p>probe page</p>"


@pytest.fixture(scope="module")
def verifier() -> WebVerifier:
    return WebVerifier()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("secrets") / "secret.html"
    path.write_text(f"<p>{SECRET}</p>")
    path.chmod(0o644)
    return path


def score(verifier: WebVerifier, response: str, **options: Any) -> RewardResult:
    request = RewardRequest(
        verifier="web", response=response, reference={"target_html": TARGET}, options=options
    )
    return verifier.verify(request)


def _page(head: str = "", body: str = "") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body><p>hello</p>{body}</body></html>"


def network_cases(port: int) -> dict[str, str]:
    url = f"http://127.0.0.1:{port}"
    script = "<script>{}</script>".format
    return {
        "fetch": _page(body=script(f"fetch('{url}/fetch').catch(() => 0)")),
        "xhr": _page(
            body=script(f"const x = new XMLHttpRequest(); x.open('GET', '{url}/xhr'); x.send()")
        ),
        "img": _page(body=f"<img src='{url}/a.png'>"),
        "iframe": _page(body=f"<iframe src='{url}/frame'></iframe>"),
        "websocket": _page(body=script(f"new WebSocket('ws://127.0.0.1:{port}/ws')")),
        "eventsource": _page(body=script(f"new EventSource('{url}/events')")),
        "beacon": _page(body=script(f"navigator.sendBeacon('{url}/beacon', 'x')")),
        "stylesheet": _page(head=f"<link rel='stylesheet' href='{url}/a.css'>"),
        "css-import": _page(head=f"<style>@import url('{url}/b.css');</style>"),
        "css-background": _page(head=f"<style>body {{ background: url('{url}/bg.png') }}</style>"),
        "font": _page(
            head=f"<style>@font-face {{ font-family: x; src: url('{url}/f.woff') }} "
            "p { font-family: x }</style>"
        ),
        "script-src": _page(head=f"<script src='{url}/s.js'></script>"),
        "prefetch": _page(head=f"<link rel='prefetch' href='{url}/next'>"),
        "preconnect": _page(head=f"<link rel='preconnect' href='{url}'>"),
        "dns-prefetch": _page(head=f"<link rel='dns-prefetch' href='{url}'>"),
        "preload": _page(head=f"<link rel='preload' as='image' href='{url}/p.png'>"),
        "form-autosubmit": _page(
            body=f"<form id='f' action='{url}/post' method='post'></form>"
            + script("document.getElementById('f').submit()")
        ),
        "window-open": _page(body=script(f"window.open('{url}/popup')")),
        "service-worker": _page(
            body=script(
                f"navigator.serviceWorker && navigator.serviceWorker.register('{url}/sw.js')"
            )
        ),
        "webrtc": _page(
            body=script(
                "const pc = new RTCPeerConnection({iceServers: "
                f"[{{urls: 'stun:127.0.0.1:{port}'}}]}}); pc.createDataChannel('d'); "
                "pc.createOffer().then(o => pc.setLocalDescription(o))"
            )
        ),
        "all-at-once": _page(
            head=f"<link rel='stylesheet' href='{url}/a.css'><link rel='prefetch' href='{url}/n'>"
            f"<link rel='preconnect' href='{url}'><script src='{url}/s.js'></script>",
            body=f"<img src='{url}/i.png'><iframe src='{url}/f'></iframe>"
            + script(
                f"fetch('{url}/f').catch(() => 0); navigator.sendBeacon('{url}/b', 'x');"
                f"new WebSocket('ws://127.0.0.1:{port}/w'); new EventSource('{url}/e');"
            ),
        ),
    }


NETWORK_IDS = sorted(network_cases(1))


@pytest.mark.parametrize("case", NETWORK_IDS)
def test_page_reaches_no_network(any_verifier: WebVerifier, listener: Listener, case: str) -> None:
    verifier = any_verifier
    before = len(listener.connections)
    result = score(verifier, network_cases(listener.port)[case])
    time.sleep(0.3)  # a beacon or preconnect fired late would land by now
    assert listener.connections[before:] == []
    assert result.status == "ok"
    assert result.details["reason"] in {"scored", "navigated"}


def test_the_page_believes_it_is_offline(verifier: WebVerifier) -> None:
    probe = "<p id='x'></p><script>document.getElementById('x').textContent = "
    probe += "'online ' + navigator.onLine</script>"
    target = {"target_html": "<p>online false</p>"}
    request = RewardRequest(verifier="web", response=probe, reference=target)
    assert verifier.verify(request).details["terms"]["text"] == 1.0


@pytest.mark.parametrize(
    "how",
    ["fetch", "xhr", "iframe", "navigate", "object"],
)
def test_page_reads_no_host_file(any_verifier: WebVerifier, secret_file: Path, how: str) -> None:
    verifier = any_verifier
    url = f"file://{secret_file}"
    show = "then(t => document.body.append(t)).catch(e => document.body.append('blocked'))"
    pages = {
        "fetch": f"<script>fetch('{url}').then(r => r.text()).{show}</script>",
        "xhr": (
            "<script>const x = new XMLHttpRequest(); x.onload = () => "
            f"document.body.append(x.responseText); x.open('GET', '{url}'); x.send()</script>"
        ),
        "iframe": f"<iframe src='{url}'></iframe>",
        "navigate": f"<p>x</p><script>location.href = '{url}'</script>",
        "object": f"<object data='{url}' type='text/html'></object>",
    }
    target = {"target_html": f"<p>{SECRET}</p>"}
    request = RewardRequest(verifier="web", response=pages[how], reference=target)
    result = verifier.verify(request)
    assert result.status == "ok"
    assert SECRET not in json.dumps(result.details)
    assert result.details.get("terms", {}).get("text", 0.0) < 0.5


def _in_jail(argv: list[str], backend: str = "bwrap") -> str:
    """What `argv`, started where Chromium is, writes on its stdout (until it exits)."""
    import os

    from rewardgate.verifiers.web.containment import spawn_jailed

    r, w = os.pipe()
    process = spawn_jailed(argv, stdio=(None, w, w), backend=backend)
    os.close(w)
    try:
        assert process.wait(60) is not None
        with os.fdopen(r, "rb") as f:
            return f.read().decode()
    finally:
        process.close()


def test_the_jail_holds_no_network_no_home_and_no_privilege(listener: Listener) -> None:
    """The browser's jail, with a shell in Chromium's place: what a page could reach."""
    connect = (
        "import socket; s = socket.socket(); s.settimeout(2); "
        f"print('connect', s.connect_ex(('127.0.0.1', {listener.port})))"
    )
    script = (
        "id -u; ls /; ls /home /root 2>&1; ls /etc; "
        "tail -n +3 /proc/net/dev | cut -d: -f1; touch /usr/x 2>&1; "
        f'env; python3 -c "{connect}"'
    )
    out = _in_jail(["/bin/sh", "-c", script]).split()
    assert out[0] == "65534"
    assert "home" not in out and "root" not in out and "run" not in out and "sys" not in out
    assert "passwd" not in out and "shadow" not in out and "ssh" not in out
    assert "fonts" in out  # the font configuration, for text drawn the same everywhere
    assert out.count("lo") == 1 and not any(x.startswith(("eth", "en", "veth")) for x in out)
    assert "Read-only" in out
    assert not any(x.startswith(("SECRET", "AWS", "REWARDGATE")) for x in out)
    assert out[out.index("connect") + 1] != "0"
    assert listener.connections == []


def test_the_docker_jail_holds_no_network_no_secret_and_no_privilege(listener: Listener) -> None:
    """The browser's container, with a shell in Chromium's place."""
    connect = (
        "import socket; s = socket.socket(); s.settimeout(2); "
        f"print('connect', s.connect_ex(('127.0.0.1', {listener.port})))"
    )
    script = (
        "id -u; ls /home 2>&1; cat /etc/shadow 2>&1; tail -n +3 /proc/net/dev | cut -d: -f1; "
        f'touch /usr/x 2>&1; env; grep CapEff /proc/self/status; python3 -c "{connect}"'
    )
    out = _in_jail(["/bin/sh", "-c", script], "docker").split()
    assert out[0] == "65534"
    assert "Permission" in out and "Read-only" in out  # /etc/shadow, /usr
    assert out.count("lo") == 1 and not any(x.startswith(("eth", "en", "veth")) for x in out)
    assert out[out.index("CapEff:") + 1] == "0000000000000000"
    assert not any(x.startswith(("SECRET", "AWS", "REWARDGATE")) for x in out)
    assert out[out.index("connect") + 1] != "0"
    assert listener.connections == []


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
def test_the_jail_has_the_sandbox_seccomp_filter(backend: str) -> None:
    """A process started as Chromium is gets the filter every sandboxed run gets: the
    calls tests/sandbox/test_seccomp.py tries are refused in the browser's jail too."""
    from rewardgate.sandbox.seccomp import TABLES

    numbers = TABLES["x86_64"][1]
    probe = (
        "import ctypes, errno\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"for name, nr in {[(n, numbers[n]) for n in ('unshare', 'keyctl', 'bpf', 'mount')]}:\n"
        "    ctypes.set_errno(0)\n"
        "    r = libc.syscall(nr, 0, 0, 0, 0, 0)\n"
        "    print(name, 'ok' if r >= 0 else errno.errorcode[ctypes.get_errno()])\n"
    )
    out = _in_jail(["python3", "-c", probe], backend).split()
    assert out == ["unshare", "EPERM", "keyctl", "EPERM", "bpf", "EPERM", "mount", "EPERM"]


def _sleeps(pids: set[int]) -> set[int]:
    """Those of `pids` that run `sleep` now."""
    found = set()
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "sleep":
                found.add(pid)
        except OSError:
            continue
    return found


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
def test_closing_the_jail_kills_everything_in_it(backend: str) -> None:
    """Whatever a jailed process leaves (a daemon in a session of its own) dies with it."""
    import os

    from rewardgate.verifiers.web.containment import spawn_jailed

    tree = "(setsid sleep 600 &) ; (sleep 600 &) ; exec sleep 600"
    process = spawn_jailed(["/bin/sh", "-c", tree], backend=backend)
    try:
        deadline = time.monotonic() + 30
        while len(_sleeps(process.pids())) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        pids = _alive(process.pids())
        assert len(_sleeps(pids)) == 3  # the subshells' sleeps and the one in sh's place
    finally:
        process.close()
    assert _alive(pids) == set()
    assert os.getpid() not in pids


def _alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running (zombies awaiting their reaper do not count)."""
    alive = set()
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if "State:\tZ" not in status:
            alive.add(pid)
    return alive


@pytest.mark.parametrize(
    "script",
    [
        "while (true) {}",
        "setTimeout(() => { while (true) {} }, 0)",
        "for (;;) { document.body.append('x') }",
    ],
    ids=["inline-loop", "loop-after-load", "dom-growing-loop"],
)
def test_endless_script_is_a_timeout_verdict_and_the_browser_is_replaced(
    any_verifier: WebVerifier, script: str
) -> None:
    from rewardgate.verifiers.web.containment import using_backend

    verifier = any_verifier
    with using_backend(verifier.default_backend()):
        manager = browser_manager()
    assert score(verifier, PROBE).details["reason"] == "scored"
    old = manager.browser_pids()
    launches = manager.launches
    assert old
    result = score(verifier, f"<p>x</p><script>{script}</script>", render_timeout_s=2)
    assert result.status == "ok"
    assert result.reward == 0.0
    assert result.details["reason"] == "render_timeout"
    deadline = time.monotonic() + 5
    while _alive(old) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _alive(old) == set(), "the hung browser's processes outlived it"
    after = score(verifier, TARGET)
    assert after.reward >= 0.999
    assert manager.launches == launches + 1


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        (
            "<p>x</p><script>const a = []; while (true) a.push(new Array(1e6).fill(1.5))</script>",
            "page_crashed",
        ),
        ("<p>x</p><script>location.href = 'http://127.0.0.1:9/'</script>", "navigated"),
        ("<meta http-equiv='refresh' content='0; url=http://127.0.0.1:9/'><p>x</p>", "navigated"),
    ],
    ids=["memory-bomb", "navigate-away", "meta-refresh"],
)
def test_page_faults_are_verdicts(any_verifier: WebVerifier, html: str, reason: str) -> None:
    verifier = any_verifier
    result = score(verifier, html, render_timeout_s=5)
    assert result.status == "ok"
    assert result.reward == 0.0
    assert result.details["reason"] == reason
    assert score(verifier, TARGET).reward >= 0.999


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1); confirm(2); prompt(3); print()</script><p>dialogs</p>",
        "<div style='height: 200000px; width: 50000px'>huge</div>",
        "<p>" + "word " * 200_000 + "</p>",
        "".join(f"<p>line {i}</p>" for i in range(3000)),
        "<style>p { animation: spin 1s infinite } @keyframes spin { to { rotate: 1turn } }</style>"
        "<p>spinning</p>",
    ],
    ids=["dialogs", "huge-canvas", "huge-text", "thousands-of-blocks", "animation"],
)
def test_awkward_pages_are_scored_within_bounds(verifier: WebVerifier, html: str) -> None:
    result = score(verifier, html)
    assert result.status == "ok"
    assert result.details["reason"] == "scored"
    assert result.details["page"]["width"] <= 4096
    assert result.details["page"]["height"] <= 8192
    assert 0.0 <= result.reward < 0.9


def _chromium_pids() -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if comm in {"chromium", "chrome_crashpad"}:
                found.add(int(entry.name))
    return found


def test_engine_killing_a_worker_takes_its_browser_along(
    verifier_engine: Callable[..., Any],
) -> None:
    before = _chromium_pids()
    engine = verifier_engine(WebVerifier, timeout_s=60)
    item = {"verifier": "web", "reference": {"target_html": TARGET}}
    [ok] = engine.score([{**item, "response": TARGET}])
    assert ok.status == "ok" and ok.reward >= 0.999
    started = _chromium_pids() - before
    assert started, "the worker's browser should be running"
    hang = "<p>x</p><script>while (true) {}</script>"
    [killed] = engine.score(
        [{**item, "response": hang, "options": {"timeout_s": 3, "render_timeout_s": 30}}]
    )
    assert killed.status == "timeout"
    deadline = time.monotonic() + 10
    while _alive(started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _alive(started) == set(), "a killed worker's browser outlived it"
    [again] = engine.score([{**item, "response": TARGET}])
    assert again.status == "ok" and again.reward >= 0.999


def test_service_stays_healthy_over_http(
    make_client: Callable[..., TestClient], listener: Listener
) -> None:
    client = make_client(installed=True)
    url = f"http://127.0.0.1:{listener.port}"
    hostile = {
        "loop": "<p>x</p><script>while (true) {}</script>",
        "network": network_cases(listener.port)["all-at-once"],
        "crash": "<script>const a = []; while (true) a.push(new Array(1e6).fill(1))</script>",
        "navigate": f"<script>location.href = '{url}/'</script>",
    }
    items = [
        {
            "verifier": "web",
            "id": name,
            "response": html,
            "reference": {"target_html": TARGET},
            "options": {"render_timeout_s": 3},
        }
        for name, html in hostile.items()
    ]
    items.append(
        {"verifier": "web", "id": "good", "response": TARGET, "reference": items[0]["reference"]}
    )
    response = client.post("/v1/rewards", json={"items": items})
    assert response.status_code == 200
    results = {r["id"]: r for r in response.json()["results"]}
    for name in hostile:
        assert results[name]["status"] == "ok", results[name]
        assert results[name]["reward"] == 0.0 or results[name]["details"]["reason"] == "scored"
    assert results["good"]["reward"] >= 0.999
    assert listener.connections == []
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["web.chromium"] == "ok"
    [later] = client.post("/v1/rewards", json={"items": [items[-1]]}).json()["results"]
    assert later["status"] == "ok" and later["reward"] >= 0.999
