"""Hog, PostHog's small scripting language, interpreted in a sandbox (no Django, no I/O).

    program = compile_program(source)          # HogCompileError naming line and column; cached by source
    stored = program.to_json()                  # what an evaluation stores; load_program(stored) skips parsing
    result = run(program, {"output": "…"})      # HogResult(value, printed) or a HogRuntimeError

Semantics follow PostHog's VMs where they are documented or tested: arrays and tuples count from 1 (index 0 is
an error, out of range is null), `:=` assigns and `=`/`==` compare with PostHog's type unification ('1' = 1,
true = 1), `||` and f-strings concatenate (null as ''), LIKE finds its pattern anywhere in the text, regular
expressions are RE2's, `toInt('x')` is null, `keys()` of an array counts from 0, and `print` writes values as Hog
does (strings inside values quoted, `{'k': 1}`, `(1, 2)`, `null`).

Limits of one run (`Limits`, chosen for a program judging one event in a worker that serves other runs):
- 2 s of wall clock (PostHog allows 10 s). An evaluator that does real work on a large output runs in
  milliseconds; a run that takes seconds is a loop gone wrong, and each second it holds the worker's interpreter
  delays every other run there (pure-Python work holds the GIL).
- 2,000,000 steps (a loop iteration, a call, a value visited by print/JSON/equality): about a second of work, so
  a tight loop ends on steps or on time, whichever comes first.
- 64 MiB of memory, counting every string and collection the program creates as it creates it (and giving back
  what an assignment frees: see `runtime`).
- Calls 64 deep; the program nests at most 128 levels and has at most 20,000 nodes in 100,000 characters;
  values nest at most 256 levels; at most 1,000 printed lines.
"""

from query_languages.hog.errors import (
    HogCompileError,
    HogError,
    HogInternalError,
    HogMemoryError,
    HogRecursionError,
    HogRuntimeError,
    HogStepLimitError,
    HogTimeoutError,
)
from query_languages.hog.parser import MAX_SOURCE_LENGTH
from query_languages.hog.program import CompiledProgram, HogResult, compile_program, load_program, run
from query_languages.hog.sandbox import Limits

__all__ = [
    "MAX_SOURCE_LENGTH",
    "CompiledProgram",
    "HogCompileError",
    "HogError",
    "HogInternalError",
    "HogMemoryError",
    "HogRecursionError",
    "HogResult",
    "HogRuntimeError",
    "HogStepLimitError",
    "HogTimeoutError",
    "Limits",
    "compile_program",
    "load_program",
    "run",
]
