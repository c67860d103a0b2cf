"""Hog: what a typical code evaluator costs per event, beside the same check written in plain Python.

The evaluator checks that the output is valid JSON, that its `answer` is a non-empty string, and that the output
leaks no email address (a regular expression); it prints its reason, as an evaluator's reasoning. Both sides get
the same globals and the same events; the Python side uses the same libraries the interpreter does (orjson, RE2),
so the ratio is the interpreter's own overhead. In-process, microseconds per run (median over many runs).

    .venv/bin/python bench/hog.py [--runs 20000] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import harness

BENCHMARK = "Hog"
SOURCE = r"""
if (not isValidJSON(output)) {
    print('The output is not valid JSON')
    return false
}
let parsed := jsonParse(output)
if (empty(parsed.answer)) {
    print('The answer is empty')
    return false
}
if (output =~ '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}') {
    print('The output leaks an email address')
    return false
}
print(f'Valid JSON, {length(parsed.answer)} characters of answer')
return true
"""
EVENTS = [
    '{"answer": "Refunds are accepted within 30 days of purchase.", "confidence": 0.92}',
    '{"answer": "Write to support@example.com for help", "confidence": 0.5}',
    "Sorry, I cannot answer that.",
    '{"answer": "", "confidence": 0.1}',
]


def python_check() -> Callable[[dict[str, Any]], tuple[bool, list[str]]]:
    import orjson

    from query_languages.regex import compile_pattern

    email = compile_pattern(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")

    def check(globals_: dict[str, Any]) -> tuple[bool, list[str]]:
        output = globals_["output"]
        try:
            parsed = orjson.loads(output)
        except orjson.JSONDecodeError:
            return False, ["The output is not valid JSON"]
        answer = parsed.get("answer") if isinstance(parsed, dict) else None
        if not answer:
            return False, ["The answer is empty"]
        if email.search(output) is not None:
            return False, ["The output leaks an email address"]
        return True, [f"Valid JSON, {len(answer)} characters of answer"]

    return check


def median_us(operation: Callable[[], object], runs: int) -> float:
    for _ in range(min(runs // 10, 1000)):  # warm-up: caches, the regex compiled
        operation()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        operation()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="5,000 runs per event")
    args = parser.parse_args()
    if args.quick:
        args.runs = 5_000

    from query_languages.hog import compile_program, load_program, run

    program = load_program(compile_program(SOURCE).to_json())  # as a saved evaluation loads it
    check = python_check()
    globals_per_event = [
        {"input": "What is the refund policy?", "output": output, "properties": {"$ai_model": "gpt-4o-mini"},
         "event": {"uuid": "0190a1b2-0000-7000-8000-000000000000", "event": "$ai_generation", "distinct_id": "u1"}}
        for output in EVENTS
    ]  # fmt: skip
    for globals_ in globals_per_event:  # both sides agree before they are timed
        result = run(program, globals_)
        assert (result.value, result.printed) == check(globals_), (result, check(globals_))

    hog_us, python_us = [], []
    print(f"\nA Hog evaluator (JSON check + regex) per event, median of {args.runs:,} runs each")
    for globals_, output in zip(globals_per_event, EVENTS, strict=True):
        hog = median_us(lambda globals_=globals_: run(program, globals_), args.runs)
        python = median_us(lambda globals_=globals_: check(globals_), args.runs)
        hog_us.append(hog)
        python_us.append(python)
        print(f"  {hog:8.1f} µs  Python {python:6.2f} µs  ({hog / python:5.1f}x)  output {output[:40]!r}")
    hog_mean, python_mean = statistics.mean(hog_us), statistics.mean(python_us)
    print(f"  mean {hog_mean:.1f} µs per run, plain Python {python_mean:.2f} µs: {hog_mean / python_mean:.1f}x")
    harness.record(BENCHMARK, "Hog evaluator per event (JSON check + regex), µs", hog_mean, "µs",
                   "the same check in plain Python", python_mean, target="<= 20")  # fmt: skip

    started = time.perf_counter()
    compile_program.cache_clear()
    compile_program(SOURCE)
    compile_us = (time.perf_counter() - started) * 1e6
    print(f"  compiling the evaluator once: {compile_us:.0f} µs (then cached by source)")
    harness.record(BENCHMARK, "compiling the evaluator (once per process)", compile_us, "µs", "", None)


if __name__ == "__main__":
    main()
