"""WSGI middleware injecting seeded API faults: throttling, 5xx answers and dropped connections."""

from __future__ import annotations

import io
import json
import random
import socket
import struct
import threading
import uuid
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from orchestrator.sandbox.config import FaultConfig


def operation_of(environ: dict[str, Any]) -> tuple[str, bool]:
    """(operation name, JSON protocol?) of a request; reads and restores the body for query-protocol calls."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.split(".")[-1], True
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return query["Action"][0], False
    content_type = environ.get("CONTENT_TYPE", "")
    if "application/x-www-form-urlencoded" in content_type:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        form = parse_qs(body.decode("utf-8", "replace"))
        if "Action" in form:
            return form["Action"][0], False
    return "", "json" in content_type


class FaultInjector:
    """Decides, reproducibly from the seed, which calls fail and how."""

    def __init__(self, config: FaultConfig):
        self.config = config
        self._rng = random.Random(config.seed)
        self._resets_left = config.connection_resets
        self._lost_left = config.lost_responses
        self._lock = threading.Lock()
        self.injected: list[tuple[str, str]] = []  # (operation, fault) in order, for tests and reports

    def decide(self, operation: str) -> str | None:
        config = self.config
        if config.operations and operation not in config.operations:
            return None
        with self._lock:
            if self._resets_left > 0:
                self._resets_left -= 1
                fault = "reset"
            elif self._lost_left > 0:
                self._lost_left -= 1
                fault = "lost"
            else:
                draw = self._rng.random()
                if draw < config.throttle_rate:
                    fault = "throttle"
                elif draw < config.throttle_rate + config.error_5xx_rate:
                    fault = "5xx"
                else:
                    return None
            self.injected.append((operation, fault))
            return fault


def _error_body(code: str, message: str, json_protocol: bool) -> tuple[bytes, str]:
    if json_protocol:
        return json.dumps({"__type": code, "message": message}).encode(), "application/x-amz-json-1.1"
    xml = (f'<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>'
           f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
    return xml.encode(), "text/xml"


class FaultMiddleware:
    """Wraps moto's WSGI app; requests pass through untouched unless the injector picks them."""

    def __init__(self, app: Callable[..., Iterable[bytes]], injector: FaultInjector):
        self.app = app
        self.injector = injector

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        operation, json_protocol = operation_of(environ)
        fault = self.injector.decide(operation)
        if fault is None:
            return self.app(environ, start_response)
        if fault == "lost":
            # The server carries the request out; only its answer is lost on the way back.
            answer = self.app(environ, lambda *args, **kwargs: None)
            b"".join(answer)
            close = getattr(answer, "close", None)
            if close is not None:
                close()
            fault = "reset"
        if fault == "reset":
            sock = environ.get("werkzeug.socket")
            if isinstance(sock, socket.socket):
                # SO_LINGER 0 makes close() send RST: the client sees "connection reset by peer".
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            start_response("500 Internal Server Error", [("Content-Length", "0")])
            return [b""]
        if fault == "throttle":
            body, ctype = _error_body("Throttling" if not json_protocol else "ThrottlingException", "Rate exceeded",
                                      json_protocol)
            status = "400 Bad Request"
        else:
            body, ctype = _error_body("InternalFailure", "We encountered an internal error. Please try again.",
                                      json_protocol)
            status = "500 Internal Server Error"
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [body]
