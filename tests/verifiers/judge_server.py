"""A small OpenAI-compatible chat-completions server for the `judge` tests.

It speaks the protocol's shape (POST /v1/chat/completions -> choices[0].message.content)
and replies as the prompt tells it, so tests drive it through the response they score:

    SCORE=7          reply "... Score: 7"
    SAY:<text>       reply <text> (to end of line)
    SLOW:<seconds>   answer after a pause
    FAIL:<n>:<key>   the first n requests carrying <key> get HTTP 500
    RATE:<n>:<key>   the first n requests carrying <key> get HTTP 429, Retry-After: 0

GET /v1/requests lists the bodies and Authorization headers received.
Run: python tests/verifiers/judge_server.py PORT [API_KEY]
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = sys.argv[2] if len(sys.argv) > 2 else None
RECEIVED: list[dict[str, Any]] = []
SEEN: Counter[str] = Counter()
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read /v1/requests instead."""

    def _send(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/v1/requests":
            with LOCK:
                self._send(200, {"requests": RECEIVED})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        auth = self.headers.get("Authorization")
        with LOCK:
            RECEIVED.append({"body": body, "authorization": auth})
        if self.path != "/v1/chat/completions":
            self._send(404, {"error": {"message": "not found"}})
            return
        if API_KEY is not None and auth != f"Bearer {API_KEY}":
            self._send(401, {"error": {"message": "bad key"}})
            return
        prompt = body["messages"][-1]["content"]
        for kind, status in (("FAIL", 500), ("RATE", 429)):
            for count, key in re.findall(rf"{kind}:(\d+):(\w+)", prompt):
                with LOCK:
                    SEEN[key] += 1
                    failing = SEEN[key] <= int(count)
                if failing:
                    self._send(status, {"error": {"message": kind}}, {"Retry-After": "0"})
                    return
        slow = re.search(r"SLOW:([\d.]+)", prompt)
        if slow:
            time.sleep(float(slow.group(1)))
        said = re.search(r"SAY:(.*)", prompt)
        score = re.search(r"SCORE=(-?[\d.]+)", prompt)
        if said:
            content = said.group(1)
        elif score:
            content = f"The response looks fine to me.\nScore: {score.group(1)}"
        else:
            content = "I cannot tell."
        self._send(
            200,
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
            },
        )


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()
