"""LLM summaries of an evaluation's results (PostHog's `llm_analytics/evaluation_summary/`): the judge reads up to
250 recent results and answers patterns and recommendations; the statistics are counted here, from the rows, whatever
the model says. Answers are cached for an hour (`summary_cache`); a cached one is served without asking again."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from pydantic import BaseModel, ConfigDict, ValidationError

from environments.models import Team
from evaluations import errors, provider_keys
from evaluations.judge import CODE_FENCE
from evaluations.models import Evaluation
from evaluations.summary_cache import cache_key, cached_summary, summary_cache_put
from evaluations.summary_selectors import ResultRow, SummaryFilter, evaluation_results
from posthog_clone import encryption
from posthog_clone.errors import DomainError, Unavailable
from posthog_clone.llm import LLMConfig, LLMError, complete_json, judge_config

NO_RESULTS = "No evaluation runs found for the specified criteria"
MAX_EXAMPLES = 5
SCHEMA_NAME = "evaluation_summary"
PATTERN_KINDS = ("pass_patterns", "fail_patterns", "na_patterns")

SYSTEM_PROMPT = """You summarise the results of an LLM evaluation: a judge applied the criteria below to each \
generation and gave a verdict (pass, fail, or na when the criteria did not apply) with its reasoning.

Group the results into patterns: pass_patterns say why results passed, fail_patterns why they failed, na_patterns \
why the criteria did not apply; leave a list empty when no result has that verdict. Each pattern has a short title, \
a description, its frequency (common, occasional or rare) and up to 5 example_generation_ids copied from the \
results. overall_assessment is two or three sentences on how the evaluated generations do. recommendations are \
concrete changes to the generations' prompt or to the evaluation's criteria."""
USER_PROMPT = "Evaluation: {name}\nCriteria: {criteria}\n\nResults, newest first ({count}), one JSON object a line:\n"

_PATTERN_SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "description": {"type": "string"},
        "frequency": {"type": "string", "description": "common, occasional or rare"},
        "example_generation_ids": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["title", "description", "frequency", "example_generation_ids"],
    "additionalProperties": False,
}
RESPONSE_SCHEMA = {
    "type": "object",
    "properties": {
        "overall_assessment": {"type": "string"},
        **{kind: {"type": "array", "items": _PATTERN_SCHEMA} for kind in PATTERN_KINDS},
        "recommendations": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["overall_assessment", *PATTERN_KINDS, "recommendations"],
    "additionalProperties": False,
}


class Pattern(BaseModel):
    model_config = ConfigDict(strict=True)

    title: str
    description: str
    frequency: str
    example_generation_ids: list[str]


class SummaryAnswer(BaseModel):
    # Strict: a list where text was asked for is a wrong answer, not something to coerce. Extra keys (a model's own
    # statistics) are dropped.
    model_config = ConfigDict(strict=True)

    overall_assessment: str
    pass_patterns: list[Pattern]
    fail_patterns: list[Pattern]
    na_patterns: list[Pattern]
    recommendations: list[str]


class SummaryJudgeError(Exception):
    """The judge did not give a usable summary (it failed, or its answer does not fit): nothing is cached."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def evaluation_summary(
    *,
    team: Team,
    evaluation_id: uuid.UUID,
    filter: SummaryFilter = "all",
    generation_ids: Sequence[uuid.UUID] | None = None,
    force_refresh: bool = False,
) -> dict[str, Any]:
    """The summary of the evaluation's newest results matching `filter` (and `generation_ids`): from the cache
    unless `force_refresh`, else asked of the evaluation's judge and cached for an hour."""
    evaluation = (
        Evaluation.objects.filter(team=team, id=evaluation_id, deleted=False).select_related("provider_key").first()
    )
    if evaluation is None:
        raise errors.evaluation_not_found(evaluation_id)
    config = summary_judge_config(evaluation=evaluation)
    rows = evaluation_results(team=team, evaluation_id=evaluation.id, filter=filter, generation_ids=generation_ids)
    if not rows:
        raise DomainError(NO_RESULTS, code="no_evaluation_runs")
    statistics = counted(rows)
    key = cache_key(team_id=team.id, evaluation_id=evaluation.id, filter=filter,
                    generation_ids=[row.generation_id for row in rows])  # fmt: skip
    cached = None if force_refresh else cached_summary(key=key)
    if cached is not None:
        return {**cached, "statistics": statistics}
    summary = asyncio.run(_ask(config, evaluation, rows))
    summary_cache_put(key=key, team_id=team.id, evaluation_id=evaluation.id, value=summary)
    return {**summary, "statistics": statistics}


def counted(rows: Sequence[ResultRow]) -> dict[str, int]:
    verdicts = Counter(row.verdict for row in rows)
    return {"total_analyzed": len(rows), "pass_count": verdicts["pass"], "fail_count": verdicts["fail"],
            "na_count": verdicts["na"]}  # fmt: skip


def summary_judge_config(*, evaluation: Evaluation) -> LLMConfig:
    """The evaluation's own judge (its provider key and model) when it has one, else the server's with the
    evaluation's model; 503 when there is neither."""
    key = evaluation.provider_key
    if key is None:
        config = judge_config(model=evaluation.judge_model)
        if config is None:
            raise errors.llm_judge_not_configured()
        return config
    try:
        api_key = provider_keys.stored_api_key(key)
    except encryption.DecryptionError:
        raise Unavailable(provider_keys.UNDECRYPTABLE, code="provider_key_invalid", retryable=False) from None
    return LLMConfig(
        model=evaluation.judge_model or settings.LLMA_EVAL_MODEL,
        api_key=api_key or "not-needed",
        base_url=provider_keys.endpoint(provider=key.provider, base_url=key.base_url),
        timeout_seconds=settings.LLMA_EVAL_TIMEOUT_SECONDS,
        provider=evaluation.judge_provider or key.provider,
    )


def _criteria(evaluation: Evaluation) -> str:
    prompt = (evaluation.evaluation_config or {}).get("prompt")
    if isinstance(prompt, str) and prompt.strip():
        return prompt.strip()
    return evaluation.description or f"a {evaluation.evaluation_type} evaluator"


def _prompt(evaluation: Evaluation, rows: Sequence[ResultRow]) -> str:
    lines = [json.dumps({"generation_id": row.generation_id, "verdict": row.verdict or "none",
                         "reasoning": row.reasoning}, ensure_ascii=False) for row in rows]  # fmt: skip
    head = USER_PROMPT.format(name=evaluation.name, criteria=_criteria(evaluation), count=len(rows))
    return head + "\n".join(lines)


async def _ask(config: LLMConfig, evaluation: Evaluation, rows: Sequence[ResultRow]) -> dict[str, Any]:
    try:
        completion = await complete_json(config, system=SYSTEM_PROMPT, user=_prompt(evaluation, rows),
                                         schema_name=SCHEMA_NAME, schema=RESPONSE_SCHEMA)  # fmt: skip
    except LLMError as error:
        raise SummaryJudgeError(f"The judge could not summarise the results: {error.message}",
                                code="summary_llm_failed") from None  # fmt: skip
    return _read_answer(completion.content, analysed={row.generation_id for row in rows})


def _read_answer(content: str, *, analysed: set[str]) -> dict[str, Any]:
    try:
        answer = SummaryAnswer.model_validate_json(_unfenced(content))
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "the answer"
        raise SummaryJudgeError(
            f"The judge's answer is not a valid summary ({where}: {problem['msg']}): {content[:200]}",
            code="invalid_summary_answer",
        ) from None
    summary = answer.model_dump()
    # Models invent ids: keep only examples that are among the results it read.
    for kind in PATTERN_KINDS:
        for pattern in summary[kind]:
            pattern["example_generation_ids"] = [generation for generation in pattern["example_generation_ids"]
                                                 if generation in analysed][:MAX_EXAMPLES]  # fmt: skip
    return summary


def _unfenced(content: str) -> str:
    fenced = CODE_FENCE.match(content)
    return fenced.group(1) if fenced else content
