"""A small OpenAI-compatible chat-completions server on 127.0.0.1, so the judge talks real HTTP through the openai
SDK. Each request takes the next scripted reply (or the default one); every request body is kept. `GET /v1/models`
lists `models` (how provider keys are checked); with `accepted_keys` set, any other bearer key is refused with 401 on
every route, its error echoing the key as OpenAI's does (so tests see it goes no further). With `hold_refusals` set,
refused chat requests wait (bounded) until it is set: several runs then meet the refusal at the same moment."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GATE_TIMEOUT_SECONDS = 60


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    # When set, the reply waits for it (bounded): a judge that is still "thinking".
    gate: threading.Event | None = None
    # Only for requests asking for structured output (`response_format`); others get the default reply.
    structured_only: bool = False


def completion(content: str, *, prompt_tokens: int = 42, completion_tokens: int = 18) -> Reply:
    return Reply(
        body={
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 1764547200,
            "model": "judge-test-model",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


def verdict(value: bool | None, reasoning: str = "Because.", *, applicable: bool | None = None) -> Reply:
    answer: dict[str, Any] = {"reasoning": reasoning, "verdict": value}
    if applicable is not None:
        answer["applicable"] = applicable
    return completion(json.dumps(answer))


def score(value: float | None, reasoning: str = "Scored.") -> Reply:
    return completion(json.dumps({"reasoning": reasoning, "score": value}))


def categories(keys: list[str] | None, reasoning: str = "Categorised.") -> Reply:
    return completion(json.dumps({"reasoning": reasoning, "categories": keys}))


def error(status: int, message: str, *, code: str | None = None, error_type: str = "invalid_request_error") -> Reply:
    return Reply(status=status, body={"error": {"message": message, "type": error_type, "code": code, "param": None}})


class FakeLLM:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.replies: deque[Reply] = deque()
        self.default = verdict(True, "The answer is correct.")
        self.models = ["judge-test-model"]
        # None: any key (or none) is accepted.
        self.accepted_keys: set[str] | None = None
        # Refused chat requests wait for this event (when set); `refused` counts them, as they arrive.
        self.hold_refusals: threading.Event | None = None
        self.refused = 0
        # Requests for the model list, as (path, Authorization header).
        self.model_requests: list[tuple[str, str | None]] = []
        # Unscripted replies by the structured output asked for (its `json_schema` name), else the default one.
        self.by_schema: dict[str, Reply] = {}
        self.received = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        # shutdown() waits for the loop's next poll: at the default half second, that was most of a short test's time.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def start(self) -> FakeLLM:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def wait_for_requests(self, count: int, timeout: float = 30) -> None:
        with self.received:
            if not self.received.wait_for(lambda: len(self.requests) >= count, timeout):
                raise TimeoutError(f"the judge got {len(self.requests)} requests, not {count}, in {timeout}s")

    def wait_for_refusals(self, count: int, timeout: float = 30) -> None:
        with self.received:
            if not self.received.wait_for(lambda: self.refused >= count, timeout):
                raise TimeoutError(f"the judge refused {self.refused} requests, not {count}, in {timeout}s")

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self.received:
            self.requests.append(body)
            self.received.notify_all()
            if self.replies and (not self.replies[0].structured_only or "response_format" in body):
                return self.replies.popleft()
            schema = (body.get("response_format") or {}).get("json_schema") or {}
            return self.by_schema.get(schema.get("name"), self.default)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _refused(self, *, held: bool = False) -> bool:
                authorization = self.headers.get("Authorization") or ""
                key = authorization.removeprefix("Bearer ")
                if fake.accepted_keys is None or key in fake.accepted_keys:
                    return False
                hold = fake.hold_refusals if held else None
                if hold is not None:
                    with fake.received:
                        fake.refused += 1
                        fake.received.notify_all()
                    hold.wait(GATE_TIMEOUT_SECONDS)
                refusal = error(401, f"Incorrect API key provided: {key}.", code="invalid_api_key")
                self._send(refusal.status, refusal.body)
                return True

            def _send(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the caller went away (a killed worker)

            def do_GET(self) -> None:
                with fake.received:
                    fake.model_requests.append((self.path, self.headers.get("Authorization")))
                if self._refused():
                    return
                if self.path.rstrip("/") != "/v1/models":
                    self._send(404, {"error": {"message": "Not found", "type": "invalid_request_error"}})
                    return
                listed = [{"id": model, "object": "model", "created": 1764547200, "owned_by": "test"}
                          for model in fake.models]  # fmt: skip
                self._send(200, {"object": "list", "data": listed})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self._refused(held=True):
                    return
                body["_authorization"] = self.headers.get("Authorization")
                body["_path"] = self.path
                reply = fake._next_reply(body)
                if reply.gate is not None:
                    reply.gate.wait(GATE_TIMEOUT_SECONDS)
                self._send(reply.status, reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
