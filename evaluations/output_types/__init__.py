"""The output types an evaluation's verdict can take, by `output_type`. Adding one is a module here and an entry
below (and its choice in `evaluations.models.OutputType`); the workflow does not change."""

from __future__ import annotations

from typing import Any

from evaluations.output_types.base import Answer, NormalisedConfig, OutputType, ResponseSchema, ReturnTypeError
from evaluations.output_types.boolean import Boolean
from evaluations.output_types.categorical import Categorical
from evaluations.output_types.numeric import Numeric

OUTPUT_TYPES: dict[str, OutputType[Any]] = {output.key: output for output in (Boolean(), Numeric(), Categorical())}

__all__ = ["OUTPUT_TYPES", "Answer", "NormalisedConfig", "OutputType", "ResponseSchema", "ReturnTypeError"]
