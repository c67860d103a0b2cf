"""The LLM behind evaluation judges: any OpenAI-compatible chat-completions API (OpenAI, Ollama, vLLM,
llama.cpp...). The only module that imports `openai`, and only when a judge is asked: importing it takes about half
a second, which every web process and management command would otherwise pay at start for nothing.

Provider failures come out as `LLMError` with a `kind` and whether retrying can help: authentication, permission
and quota problems will not go away by themselves; rate limits, timeouts, connection failures and 5xx may.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    import openai

PROVIDER = "openai"
# Named in errors and docs: what configures the judge.
JUDGE_VARIABLES = "LLMA_EVAL_OPENAI_BASE_URL (or OPENAI_BASE_URL) or LLMA_EVAL_OPENAI_API_KEY (or OPENAI_API_KEY)"
JUDGE_NOT_CONFIGURED = f"No LLM judge is configured: set {JUDGE_VARIABLES} for the server and its worker."
# Local servers need no key, but the SDK insists on one.
NO_API_KEY = "not-needed"
MAX_ERROR_TEXT = 500


class LLMError(Exception):
    def __init__(self, message: str, *, kind: str, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.retryable = retryable


@dataclass(frozen=True)
class LLMConfig:
    model: str
    api_key: str
    base_url: str | None
    timeout_seconds: float
    provider: str = PROVIDER


@dataclass(frozen=True)
class Completion:
    content: str
    input_tokens: int | None
    output_tokens: int | None


def judge_config(*, model: str = "") -> LLMConfig | None:
    """The server's judge configuration (with `model` instead of its own, when given), or None when neither a base
    URL nor an API key is set."""
    if not settings.LLMA_EVAL_OPENAI_BASE_URL and not settings.LLMA_EVAL_OPENAI_API_KEY:
        return None
    return LLMConfig(
        model=model or settings.LLMA_EVAL_MODEL,
        api_key=settings.LLMA_EVAL_OPENAI_API_KEY or NO_API_KEY,
        base_url=settings.LLMA_EVAL_OPENAI_BASE_URL or None,
        timeout_seconds=settings.LLMA_EVAL_TIMEOUT_SECONDS,
    )


async def complete_json(
    config: LLMConfig, *, system: str, user: str, schema_name: str, schema: dict[str, Any]
) -> Completion:
    """Ask for a JSON answer matching `schema`: as structured output first; a server that refuses
    `response_format` is asked again with the schema spelled out in the system prompt. The content is returned
    as text, for the caller to validate."""
    import openai

    client = _client(config)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    structured = {"type": "json_schema", "json_schema": {"name": schema_name, "schema": schema, "strict": True}}
    try:
        return await _create(client, config, messages, response_format=structured)
    except openai.BadRequestError as error:
        if "response_format" not in str(error) and "json_schema" not in str(error):
            raise _redacted(_classified(error), config.api_key) from None
    except openai.OpenAIError as error:
        raise _redacted(_classified(error), config.api_key) from None
    instructions = (
        f"{system}\n\nRespond with only a JSON object (no prose, no code fences) matching this JSON schema:\n"
        f"{json.dumps(schema)}"
    )
    try:
        return await _create(client, config, [{"role": "system", "content": instructions}, messages[1]])
    except openai.OpenAIError as error:
        raise _redacted(_classified(error), config.api_key) from None


def list_models(*, api_key: str | None, base_url: str, timeout_seconds: float) -> list[str]:
    """The model ids the server at `base_url` offers to this key (`GET /models`): how a provider key is checked.
    Failures come out classified, as `LLMError`; their text never contains the key (servers may echo it)."""
    import openai

    client = openai.OpenAI(api_key=api_key or NO_API_KEY, base_url=base_url, timeout=timeout_seconds, max_retries=0)
    try:
        return [model.id for model in client.models.list()]
    except openai.OpenAIError as error:
        raise _redacted(_classified(error), api_key) from None
    finally:
        client.close()


# Building a client costs ~17 ms (TLS context, HTTP pool), more than a local model's answer: one per event loop
# (its connections belong to that loop) and configuration.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[LLMConfig, openai.AsyncOpenAI]] = (
    weakref.WeakKeyDictionary()
)


def _client(config: LLMConfig) -> openai.AsyncOpenAI:
    import openai

    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    if config not in per_loop:
        # Retries belong to the caller (Temporal's retry policy), so the SDK makes one attempt.
        per_loop[config] = openai.AsyncOpenAI(
            api_key=config.api_key, base_url=config.base_url, timeout=config.timeout_seconds, max_retries=0
        )
    return per_loop[config]


async def _create(
    client: openai.AsyncOpenAI, config: LLMConfig, messages: list[dict[str, str]], **options: Any
) -> Completion:
    response = await client.chat.completions.create(model=config.model, messages=messages, **options)
    if not response.choices or not response.choices[0].message.content:
        raise LLMError("The model returned no content.", kind="parse_error", retryable=True)
    usage = response.usage
    return Completion(
        content=response.choices[0].message.content,
        input_tokens=usage.prompt_tokens if usage else None,
        output_tokens=usage.completion_tokens if usage else None,
    )


def _redacted(error: LLMError, api_key: str | None) -> LLMError:
    """The error without the key in its text (servers may echo the key they refused)."""
    if api_key and api_key != NO_API_KEY:
        error.message = error.message.replace(api_key, "[redacted]")
        error.args = (error.message,)
    return error


def _classified(error: openai.OpenAIError) -> LLMError:
    import openai

    text = str(error)[:MAX_ERROR_TEXT]
    if isinstance(error, openai.APITimeoutError):
        return LLMError(f"The LLM request timed out: {text}", kind="timeout", retryable=True)
    if isinstance(error, openai.APIConnectionError):
        return LLMError(f"The LLM server could not be reached: {text}", kind="connection_error", retryable=True)
    if isinstance(error, openai.AuthenticationError):
        return LLMError(f"The LLM server refused the API key: {text}", kind="auth_error", retryable=False)
    if isinstance(error, openai.PermissionDeniedError):
        return LLMError(f"The API key may not use this model: {text}", kind="permission_error", retryable=False)
    if isinstance(error, openai.RateLimitError):
        if getattr(error, "code", None) == "insufficient_quota" or "insufficient_quota" in text:
            return LLMError(f"The LLM account is out of quota: {text}", kind="quota_error", retryable=False)
        return LLMError(f"The LLM server is rate limiting: {text}", kind="rate_limit", retryable=True)
    if isinstance(error, openai.APIStatusError):
        if error.status_code >= 500 or error.status_code in (408, 409):
            return LLMError(f"The LLM server failed: {text}", kind="server_error", retryable=True)
        kind = "model_not_found" if error.status_code == 404 else "bad_request"
        return LLMError(f"The LLM server rejected the request: {text}", kind=kind, retryable=False)
    return LLMError(f"The LLM request failed: {text}", kind="llm_error", retryable=True)
