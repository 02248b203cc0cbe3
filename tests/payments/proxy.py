"""A TCP proxy in front of localstripe that can make Stripe unreachable, request by request.

Each request takes the next mode from ``modes`` (then ``pass``):
- ``drop``: read the request, close without forwarding it (Stripe never saw it);
- ``lose_answer``: forward the request, let Stripe answer, close before the answer reaches us;
- ``pass``: forward both ways.
Every request's ``Idempotency-Key`` header is recorded, in order.
"""

from __future__ import annotations

import re
import socket
import threading
from collections import deque

KEY = re.compile(rb"\r\nIdempotency-Key: *([^\r\n]+)", re.IGNORECASE)
PATH = re.compile(rb"^(GET|POST|DELETE) ([^ ]+) ")
LENGTH = re.compile(rb"\r\nContent-Length: *(\d+)", re.IGNORECASE)


class FlakyProxy:
    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.modes: deque[str] = deque()
        self.seen: list[tuple[str, str, str | None]] = []  # (mode, path, idempotency key)
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    @staticmethod
    def _read_message(sock: socket.socket) -> bytes:
        """One HTTP message (head and Content-Length body), or b'' at the end."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = LENGTH.search(head)
        want = int(length.group(1)) if length else 0
        while len(body) < want:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body

    def _note(self, mode: str, request: bytes) -> None:
        key = KEY.search(request)
        path = PATH.search(request)
        with self.lock:
            self.seen.append(
                (
                    mode,
                    path.group(2).decode() if path else "?",
                    key.group(1).decode().strip() if key else None,
                )
            )

    def _serve(self, client: socket.socket) -> None:
        """One client connection, request by request (keep-alive connections carry several):
        each request takes the next mode."""
        with client, socket.create_connection(self.target) as upstream:
            while True:
                try:
                    request = self._read_message(client)
                except OSError:
                    return
                if not request:
                    return
                with self.lock:
                    mode = self.modes.popleft() if self.modes else "pass"
                self._note(mode, request)
                if mode == "drop":
                    return
                upstream.sendall(request)
                answer = self._read_message(upstream)  # Stripe did the work
                if mode == "lose_answer" or not answer:
                    return
                client.sendall(answer)

    def keys_for(self, path: str) -> list[tuple[str, str | None]]:
        with self.lock:
            return [(mode, key) for mode, p, key in self.seen if p == path]

    def close(self) -> None:
        self.closed = True
        self.listener.close()
