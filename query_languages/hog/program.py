"""Compiling a Hog program once, storing its compiled form as JSON, and running it on one set of globals."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from query_languages.hog import runtime
from query_languages.hog.errors import HogCompileError
from query_languages.hog.parser import parse_program
from query_languages.hog.sandbox import Limits
from query_languages.hog.values import import_globals

# The stored form's marker and version: a tree written by another version is compiled again from its source.
FORMAT = "hog-tree"
VERSION = 1
DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class HogResult:
    value: Any
    printed: list[str]

    @property
    def reasoning(self) -> str:
        """The printed lines as an evaluation's reasoning: one line each."""
        return "\n".join(self.printed)


@dataclass(frozen=True, slots=True, eq=False)
class CompiledProgram:
    """A checked program: its tree (what is stored) and the closures built from it (what runs)."""

    tree: list[Any]
    body: Any = field(repr=False)
    slots: int

    def to_json(self) -> dict[str, Any]:
        """The compiled form to store (`evaluation_config.bytecode`): plain JSON, loaded without parsing."""
        return {"format": FORMAT, "version": VERSION, "tree": self.tree}


def _build(tree: list[Any]) -> CompiledProgram:
    try:
        body, slots = runtime.Builder().program(tree)
    except HogCompileError:
        raise
    except RecursionError:
        raise HogCompileError("Invalid compiled program: it nests too deeply") from None
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as error:
        raise HogCompileError(f"Invalid compiled program: {error}") from None
    return CompiledProgram(tree=tree, body=body, slots=slots)


@lru_cache(maxsize=512)
def compile_program(source: str) -> CompiledProgram:
    """Parse and check `source` (cached by source: an evaluation's program is compiled once per process).
    HogCompileError naming the line and column when it is not a valid program."""
    with runtime.deep_stack:
        return _build(parse_program(source))


def load_program(data: Any) -> CompiledProgram:
    """A program from its stored form (`CompiledProgram.to_json()`, as a dict or JSON text), without parsing the
    source again; cached by the stored text. HogCompileError when the data is not a compiled program of this
    version (the caller then compiles the source again)."""
    if isinstance(data, bytes | str):
        text = data if isinstance(data, bytes) else data.encode()
    else:
        try:
            text = orjson.dumps(data)
        except TypeError as error:
            raise HogCompileError(f"Invalid compiled program: {error}") from None
    return _load_cached(text)


@lru_cache(maxsize=512)
def _load_cached(text: bytes) -> CompiledProgram:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise HogCompileError(f"Invalid compiled program: {error}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
        raise HogCompileError("Invalid compiled program: not a Hog tree of this version")
    with runtime.deep_stack:
        return _build(data.get("tree"))


def run(
    program: CompiledProgram | str, globals: dict[str, Any] | None = None, *, limits: Limits = DEFAULT_LIMITS
) -> HogResult:
    """Run a program (compiled, or source to compile) on `globals` (JSON-like values: they are copied, so the
    program cannot change the caller's data). Returns the value the program returns (null when it returns
    nothing) and what it printed; raises HogRuntimeError (a subclass per limit) when it fails, with the lines it
    printed before on the error's `printed`."""
    compiled = compile_program(program) if isinstance(program, str) else program
    imported = import_globals(globals or {})
    with runtime.deep_stack:
        value, printed = runtime.execute(compiled.body, compiled.slots, imported, limits)
    return HogResult(value=value, printed=printed)
