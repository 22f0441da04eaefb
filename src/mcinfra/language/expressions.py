"""Derived-series expressions: parsed with :mod:`ast` against a whitelist, never evaluated.

An expression is arithmetic (``+ - * /``, unary minus, ``min(a, b)``, ``max(a, b)``) over
numbers, series labels (the series' value in the same year) and parameter names. It is
compiled to a postfix program that the trajectory kernel runs for every draw and year.
"""

from __future__ import annotations

import ast
import graphlib
from dataclasses import dataclass, field

from mcinfra.errors import did_you_mean
from mcinfra.kernels import model as ops

MAX_DEPTH = 64
MAX_LENGTH = 4000
_BINARY = {
    ast.Add: ops.OP_ADD,
    ast.Sub: ops.OP_SUB,
    ast.Mult: ops.OP_MUL,
    ast.Div: ops.OP_DIV,
}
_FUNCTIONS = {"min": ops.OP_MIN, "max": ops.OP_MAX}
SERIES = "series"
INPUT = "input"


class ExpressionProblem(ValueError):
    """An expression is not allowed; the message names the token and its column."""


@dataclass
class Program:
    """Postfix program of one expression."""

    op: list[int] = field(default_factory=list)
    arg: list[int] = field(default_factory=list)
    const: list[float] = field(default_factory=list)
    max_stack: int = 0
    names: set[str] = field(default_factory=set)

    def _emit(self, op: int, arg: int = 0, const: float = 0.0) -> None:
        self.op.append(op)
        self.arg.append(arg)
        self.const.append(const)


def compile_expression(text: str, symbols: dict[str, tuple[str, int]]) -> Program:
    """Compile ``text`` with ``symbols`` mapping each name to ``(SERIES|INPUT, index)``."""
    tree = parse(text)
    program = Program()
    depth = _compile(tree.body, symbols, program, text, 0)
    program.max_stack = depth
    return program


def parse(
    text: str, error: type[ValueError] | None = None, max_length: int = MAX_LENGTH
) -> ast.Expression:
    """Parse ``text`` as one Python expression, turning parser failures into ``error``.

    Shared by derived series and predictions: only the syntax tree is produced, never run.
    Text longer than ``max_length`` is refused first, which bounds parsing time and memory.
    """
    error = ExpressionProblem if error is None else error
    if len(text) > max_length:
        raise error(f"expression is longer than {max_length} characters")
    try:
        return ast.parse(text, mode="eval")
    except SyntaxError as exc:
        lines = text.splitlines() or [""]
        row = min(max(exc.lineno or 1, 1), len(lines))
        column = exc.offset
        if column:
            where = f" at column {column}"
            if len(lines) > 1:
                where = f" at line {row}, column {column}"
        else:  # the parser reached the end still expecting more
            where, row = " at the end", len(lines)
            column = len(lines[-1]) + 1
        raise error(f"syntax error{where}: {exc.msg}{pointer(lines[row - 1], column)}") from None
    except (RecursionError, MemoryError, ValueError):
        raise error("expression is too deeply nested or too large") from None


def pointer(line: str, column: int | None, width: int = 76) -> str:
    """``line`` on a line of its own, indented, with ``^`` under ``column`` (1-based).

    A line longer than ``width`` is cut to the ``width`` characters around the column,
    each cut marked ``...``.
    """
    at = min(max(column or 1, 1), len(line) + 1) - 1
    start = 0 if len(line) <= width else max(0, min(at - width // 2, len(line) - width))
    shown = line[start : start + width]
    head = "..." if start > 0 else ""
    tail = "..." if start + width < len(line) else ""
    text = f"\n    {head}{shown}{tail}"
    if column:
        text += "\n    " + " " * (len(head) + at - start) + "^"
    return text


def evaluation_order(depends: dict[str, set[str]]) -> list[str]:
    """Names ordered so each comes after those it depends on.

    Raises :class:`ExpressionProblem` naming the cycle (as ``a -> b -> a``) if there is one.
    """
    try:
        return list(graphlib.TopologicalSorter(depends).static_order())
    except graphlib.CycleError as exc:
        cycle = list(reversed(exc.args[1]))
        raise ExpressionProblem(
            f"derived series refer to each other in a cycle: {' -> '.join(cycle)}", cycle[0]
        ) from None


def _compile(node: ast.AST, symbols, program: Program, text: str, level: int) -> int:
    """Emit ``node``; return the stack depth it needs."""
    if level > MAX_DEPTH:
        raise ExpressionProblem(f"expression nests deeper than {MAX_DEPTH} levels")
    where = f" at column {getattr(node, 'col_offset', 0) + 1}"
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ExpressionProblem(
                f"only numbers are allowed as constants, got {node.value!r}{where}"
            )
        program._emit(ops.OP_CONST, const=float(node.value))
        return 1
    if isinstance(node, ast.Name):
        if node.id not in symbols:
            hint = did_you_mean(node.id, symbols)
            raise ExpressionProblem(f"unknown name '{node.id}'{where}{hint}")
        kind, index = symbols[node.id]
        program._emit(ops.OP_SERIES if kind == SERIES else ops.OP_INPUT, arg=index)
        program.names.add(node.id)
        return 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        depth = _compile(node.operand, symbols, program, text, level + 1)
        if isinstance(node.op, ast.USub):
            program._emit(ops.OP_NEG)
        return depth
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = _compile(node.left, symbols, program, text, level + 1)
        right = _compile(node.right, symbols, program, text, level + 1)
        program._emit(_BINARY[type(node.op)])
        return max(left, right + 1)
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in _FUNCTIONS or node.keywords or len(node.args) != 2:
            raise ExpressionProblem(
                f"only min(a, b) and max(a, b) may be called{where}: "
                f"'{ast.get_source_segment(text, node) or ast.dump(node.func)}'"
            )
        left = _compile(node.args[0], symbols, program, text, level + 1)
        right = _compile(node.args[1], symbols, program, text, level + 1)
        program._emit(_FUNCTIONS[name])
        return max(left, right + 1)
    token = ast.get_source_segment(text, node) or type(node).__name__
    raise ExpressionProblem(
        f"'{token}'{where} is not allowed: use numbers, series, parameters, "
        "+ - * /, min(a, b) and max(a, b)"
    )
