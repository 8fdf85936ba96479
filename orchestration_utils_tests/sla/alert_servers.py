"""Slack and PagerDuty stand-ins: real HTTP servers on 127.0.0.1 that record what they receive and
answer from a script (200/202, 429 with Retry-After, 500, HTML, no answer until the client times out, or an
answer trickled a byte at a time, in its headers or its body)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int
    body: dict | str = ""
    headers: dict = field(default_factory=dict)
    hang_seconds: float = 0.0  # > client timeout: the client gives up
    delay_seconds: float = 0.0  # answer, but only after this long
    trickle_seconds: float = (
        0.0  # send the answer one byte per this many seconds (for up to a minute)
    )
    trickle_headers: bool = False  # trickle inside the headers rather than the body


class AlertEndpoint:
    """`script` replies are used in order, then `default` forever; every request is recorded."""

    def __init__(self, default: Reply):
        self.default = default
        self.script: list[Reply] = []
        self.received: list[dict] = []  # JSON bodies of requests answered with a 2xx
        self.attempts: list[dict] = []  # every request, answered or not
        self.attempt_times: list[float] = []  # time.monotonic() of each request's arrival
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.attempts.append(
                    {
                        "path": self.path,
                        "body": body,
                        "auth": self.headers.get("Authorization"),
                        "agent": self.headers.get("User-Agent", ""),
                    }
                )
                endpoint.attempt_times.append(time.monotonic())
                reply = endpoint.script.pop(0) if endpoint.script else endpoint.default
                if reply.hang_seconds:
                    time.sleep(reply.hang_seconds)
                    return
                if reply.trickle_seconds:
                    self._trickle(reply)
                    return
                time.sleep(reply.delay_seconds)
                data = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data.encode())))
                self.end_headers()
                self.wfile.write(data.encode())
                if 200 <= reply.status < 300:
                    endpoint.received.append(body)

            def do_GET(
                self,
            ):  # only a followed redirect would come here: recorded, so a test can see it
                endpoint.attempts.append(
                    {
                        "path": self.path,
                        "body": None,
                        "auth": self.headers.get("Authorization"),
                        "agent": self.headers.get("User-Agent", ""),
                    }
                )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _trickle(self, reply: Reply) -> None:
                head = f"HTTP/1.1 {reply.status} OK\r\n".encode()
                if reply.trickle_headers:
                    slow = b"X-Slow: " + b"a" * 60
                else:  # the headers at once, then the body
                    head, slow = head + b"Content-Length: 60\r\n\r\n", b"o" * 60
                try:
                    self.wfile.write(head)
                    for byte in slow:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(reply.trickle_seconds)
                except OSError:
                    pass  # the client gave up, as it should

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def slack_webhook() -> AlertEndpoint:
    return AlertEndpoint(Reply(200, "ok"))


def pagerduty() -> AlertEndpoint:
    return AlertEndpoint(Reply(202, {"status": "success", "message": "Event processed"}))
