"""The prediction language: boolean expressions over simulated series, evaluated per draw.

A prediction is parsed once with :mod:`ast` against a whitelist (never ``eval``) into a
small tree of nodes, checked against the model's series, inputs and years, then evaluated
vectorised over a chunk of draws. The language:

- ``network[2026]``: a series in a year; ``network[2025:2028]``: the years 2025 to 2028
  inclusive (one value per draw and year);
- ``yoy(network)[2026]`` / ``yoy(network)[2025:2028]``: growth factor V(y) / V(y - 1) (the
  factor the model applied, :func:`mcinfra.kernels.growth.growth_factors`);
- ``cagr(network, 2024, 2030)``: compound annual growth rate between two years;
- ``crossover_year(cloud)``: first year in which ``cloud_<rising>`` >= ``cloud_<falling>``
  of the function split (``inf`` when it never happens within the horizon);
- ``all(...)`` / ``any(...)`` over a year range; ``between(x, low, high)`` (inclusive);
- ``input("channel.hyperscale_cloud.crossover")``: any input's sampled value by its name;
- numbers, parameter names, ``+ - * /``, comparisons (chains allowed), ``&``, ``|``, ``~``.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mcinfra.errors import did_you_mean
from mcinfra.kernels.growth import growth_factor, growth_rate
from mcinfra.language.expressions import parse

MAX_LENGTH = 2000
MAX_DEPTH = 40
NUMBER = "number"
BOOLEAN = "boolean"
_ARITHMETIC: dict[type[ast.operator], np.ufunc] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
}
_LOGIC: dict[type[ast.operator], np.ufunc] = {ast.BitAnd: np.logical_and, ast.BitOr: np.logical_or}
_COMPARE: dict[type[ast.cmpop], np.ufunc] = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}
_FUNCTIONS = ("all", "any", "between", "cagr", "crossover_year", "input", "yoy")


class PredictionError(ValueError):
    """A prediction expression is not allowed or refers to something unknown."""


@dataclass(frozen=True)
class Scope:
    """What a prediction may refer to."""

    series: tuple[str, ...]
    years: tuple[int, ...]
    parameters: tuple[str, ...] = ()
    rising: str | None = None  # function split names, for crossover_year
    falling: str | None = None
    inputs: tuple[str, ...] = ()  # every input's name, for input("...")


@dataclass(frozen=True)
class Node:
    """A checked expression node.

    ``kind`` is NUMBER or BOOLEAN, ``span`` the years it covers (None for one value per
    draw), ``evaluate(context)`` computes its values for a chunk of draws: shape (n,), or
    (len(span), n) for a year range, so that one value per draw broadcasts against it.
    """

    kind: str
    span: tuple[int, ...] | None
    keys: frozenset  # (series, year) columns it reads
    inputs: frozenset  # parameter names it reads
    evaluate: Callable


class Context:
    """Values a chunk of draws offers to predictions."""

    def __init__(
        self, column: Callable[[str, int], np.ndarray], parameter: Callable[[str], np.ndarray]
    ) -> None:
        self.column = column
        self.parameter = parameter


@dataclass(frozen=True)
class Prediction:
    """A compiled prediction: ``holds(context)`` gives one boolean per draw."""

    text: str
    root: Node

    @property
    def keys(self) -> frozenset:
        """(series, year) columns the prediction reads."""
        return self.root.keys

    @property
    def inputs(self) -> frozenset:
        """Parameters the prediction reads."""
        return self.root.inputs

    def holds(self, context: Context) -> np.ndarray:
        """Boolean per draw."""
        return np.asarray(self.root.evaluate(context), dtype=bool)


def compile_prediction(text: str, scope: Scope) -> Prediction:
    """Parse and check ``text``; raise :class:`PredictionError` naming the offending token."""
    tree = parse(text, PredictionError, MAX_LENGTH)
    root = _Compiler(text, scope).node(tree.body, 0)
    if root.kind != BOOLEAN or root.span is not None:
        shown = " ".join(text.split())
        if root.kind == BOOLEAN:
            advice = f"reduce the year range with all(...) or any(...), e.g. all({shown})"
        elif root.span is not None:
            advice = f"compare the values and reduce the year range, e.g. all({shown} > 0)"
        else:
            advice = f"compare the value with another, e.g. {shown} > 0"
        raise PredictionError(
            f"a prediction must be true or false for each draw, and '{shown}' is "
            f"{'a year range' if root.span is not None else 'a number'}: {advice}"
        )
    return Prediction(text, root)


@dataclass(frozen=True)
class Quantity:
    """A compiled numeric expression: ``values(context)`` gives one number per draw."""

    text: str
    root: Node

    def values(self, context: Context, draws: int | None = None) -> np.ndarray:
        """Float per draw; with ``draws``, a constant expression is repeated that often."""
        values = np.asarray(self.root.evaluate(context), dtype=np.float64)
        return values if draws is None else np.broadcast_to(values, (draws,))


def compile_quantity(text: str, scope: Scope) -> Quantity:
    """Parse and check a numeric expression with one value per draw (e.g. ``network[2025]``).

    Raise :class:`PredictionError` naming the offending token, or saying what the
    expression is when it is true/false or a year range instead of a number.
    """
    tree = parse(text, PredictionError, MAX_LENGTH)
    compiler = _Compiler(text, scope)
    root = compiler.node(tree.body, 0)
    shown = " ".join(text.split())
    if root.kind == BOOLEAN:
        raise PredictionError(
            f"expected a number for each draw, and '{shown}' is true or false: write the "
            f"quantity itself, e.g. {compiler.series}[{compiler.year}]"
        )
    if root.span is not None:
        raise PredictionError(
            f"expected a number for each draw, and '{shown}' is a year range: name one year, "
            f"e.g. {compiler.series}[{compiler.year}]"
        )
    return Quantity(text, root)


class _Compiler:
    def __init__(self, text: str, scope: Scope) -> None:
        self.text = text
        self.scope = scope

    # Examples in messages use the model's own series and years.
    @property
    def year(self) -> int | str:
        """The model's last year."""
        return self.scope.years[-1] if self.scope.years else "year"

    @property
    def range(self) -> str:
        """The model's years from the second (the first with a yoy) to the last."""
        years = self.scope.years
        return f"{years[min(1, len(years) - 1)]}:{years[-1]}" if years else "first:last"

    @property
    def series(self) -> str:
        """The model's first series other than the total."""
        return next((s for s in self.scope.series if s != "total"), "total")

    def source(self, node: ast.AST) -> str:
        """The text of ``node`` as written."""
        return ast.get_source_segment(self.text, node) or type(node).__name__

    def fail(self, node: ast.AST, message: str) -> PredictionError:
        token = self.source(node)
        column = getattr(node, "col_offset", 0) + 1
        return PredictionError(f"{message}: '{token}' at column {column}")

    def node(self, node: ast.AST, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise PredictionError(f"expression nests deeper than {MAX_DEPTH} levels")
        handler = getattr(self, "_" + type(node).__name__, None)
        if handler is None:
            raise self.fail(node, "not allowed in a prediction")
        return handler(node, depth + 1)

    # -- leaves -------------------------------------------------------------------------
    def _Constant(self, node: ast.Constant, depth: int) -> Node:
        value = node.value
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.fail(node, "only finite numbers are allowed as constants")
        return Node(NUMBER, None, frozenset(), frozenset(), lambda ctx, v=float(value): v)

    def _Name(self, node: ast.Name, depth: int) -> Node:
        if node.id in self.scope.parameters:
            return Node(
                NUMBER,
                None,
                frozenset(),
                frozenset([node.id]),
                lambda ctx, name=node.id: ctx.parameter(name),
            )
        if node.id in self.scope.series:
            raise self.fail(node, f"series '{node.id}' needs a year, e.g. {node.id}[{self.year}]")
        hint = did_you_mean(node.id, self.scope.series + self.scope.parameters)
        raise self.fail(node, f"unknown name '{node.id}'{hint}")

    def _series_name(self, node: ast.AST) -> str:
        if not isinstance(node, ast.Name):
            raise self.fail(node, "expected a series name")
        if node.id not in self.scope.series:
            hint = did_you_mean(node.id, self.scope.series)
            raise self.fail(node, f"unknown series '{node.id}'{hint}")
        return node.id

    def _year(self, node: ast.AST, earliest: int | None = None) -> int:
        if not (isinstance(node, ast.Constant) and type(node.value) is int):
            raise self.fail(node, "expected a year (a whole number)")
        years = self.scope.years
        first = years[0] if earliest is None else earliest
        if not first <= node.value <= years[-1]:
            raise self.fail(node, f"year outside the horizon {first}-{years[-1]}")
        return node.value

    def _years(self, node: ast.AST, earliest: int | None = None) -> tuple[int, ...] | int:
        if isinstance(node, ast.Slice):
            if node.lower is None or node.upper is None or node.step is not None:
                raise self.fail(node, f"a year range is written first:last, e.g. {self.range}")
            low, high = self._year(node.lower, earliest), self._year(node.upper, earliest)
            if low > high:
                raise self.fail(node, "a year range must run forwards")
            return tuple(range(low, high + 1))
        return self._year(node, earliest)

    def _Subscript(self, node: ast.Subscript, depth: int) -> Node:
        target = node.value
        growth = False
        if (
            isinstance(target, ast.Call)
            and isinstance(target.func, ast.Name)
            and target.func.id == "yoy"
        ):
            growth = True
            if len(target.args) != 1 or target.keywords:
                raise self.fail(target, f"yoy takes one series: yoy({self.series})[{self.year}]")
            label = self._series_name(target.args[0])
            years = self._years(node.slice, self.scope.years[0] + 1)
        else:
            label = self._series_name(target)
            years = self._years(node.slice)
        span = years if isinstance(years, tuple) else None
        wanted = years if isinstance(years, tuple) else (years,)
        keys = {(label, y) for y in wanted}
        if growth:
            keys |= {(label, y - 1) for y in wanted}

        def evaluate(ctx, label=label, wanted=wanted, growth=growth, span=span):
            if growth:
                # The factor the model applied, so a floored year reads back >= the floor.
                values = [
                    growth_factor(ctx.column(label, y), ctx.column(label, y - 1)) for y in wanted
                ]
            else:
                values = [ctx.column(label, y) for y in wanted]
            return values[0] if span is None else np.stack(values)  # year-major: no transpose

        return Node(NUMBER, span, frozenset(keys), frozenset(), evaluate)

    # -- operators ----------------------------------------------------------------------
    def _span(self, node: ast.AST, *parts: Node) -> tuple[int, ...] | None:
        spans = {p.span for p in parts if p.span is not None}
        if len(spans) > 1:
            raise self.fail(node, "year ranges of different years cannot be combined")
        return spans.pop() if spans else None

    def _combine(self, node, kind, parts, function) -> Node:
        span = self._span(node, *parts)
        keys = frozenset().union(*(p.keys for p in parts))
        inputs = frozenset().union(*(p.inputs for p in parts))
        return Node(kind, span, keys, inputs, function)

    def _BinOp(self, node: ast.BinOp, depth: int) -> Node:
        left, right = self.node(node.left, depth), self.node(node.right, depth)
        if type(node.op) in _ARITHMETIC:
            if BOOLEAN in (left.kind, right.kind):
                raise self.fail(node, "arithmetic needs numbers, not true/false values")
            op = _ARITHMETIC[type(node.op)]
        elif type(node.op) in _LOGIC:
            if NUMBER in (left.kind, right.kind):
                symbol = "&" if isinstance(node.op, ast.BitAnd) else "|"
                raise self.fail(
                    node,
                    f"{symbol} combines comparisons, each in parentheses, e.g. "
                    f"({self.series}[{self.year}] > 1) {symbol} (total[{self.year}] > 1)",
                )
            op = _LOGIC[type(node.op)]
        else:
            raise self.fail(node, "operator not allowed (use + - * / & |)")
        kind = NUMBER if type(node.op) in _ARITHMETIC else BOOLEAN

        def evaluate(ctx, op=op, left=left, right=right):
            with np.errstate(divide="ignore", invalid="ignore"):
                return op(left.evaluate(ctx), right.evaluate(ctx))

        return self._combine(node, kind, (left, right), evaluate)

    def _BoolOp(self, node: ast.BoolOp, depth: int) -> Node:
        word, symbol = ("and", "&") if isinstance(node.op, ast.And) else ("or", "|")
        parts = f" {symbol} ".join(f"({self.source(value)})" for value in node.values)
        raise self.fail(
            node, f"'{word}' is not allowed: use {symbol}, with each side in parentheses: {parts}"
        )

    def _UnaryOp(self, node: ast.UnaryOp, depth: int) -> Node:
        if isinstance(node.op, ast.Not):
            raise self.fail(
                node,
                f"'not' is not allowed: use ~, with its comparison in parentheses: "
                f"~({self.source(node.operand)})",
            )
        operand = self.node(node.operand, depth)
        if isinstance(node.op, ast.Invert):
            if operand.kind != BOOLEAN:
                raise self.fail(node, "~ negates a comparison")
            return self._combine(
                node, BOOLEAN, (operand,), lambda ctx, o=operand: np.logical_not(o.evaluate(ctx))
            )
        if isinstance(node.op, ast.USub | ast.UAdd) and operand.kind == NUMBER:
            sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
            return self._combine(
                node, NUMBER, (operand,), lambda ctx, o=operand, s=sign: s * o.evaluate(ctx)
            )
        raise self.fail(node, "operator not allowed here")

    def _Compare(self, node: ast.Compare, depth: int) -> Node:
        parts = [self.node(node.left, depth)] + [self.node(c, depth) for c in node.comparators]
        if any(p.kind != NUMBER for p in parts):
            raise self.fail(node, "comparisons take numbers")
        ops = [_COMPARE[type(op)] for op in node.ops]

        def evaluate(ctx, parts=parts, ops=ops):
            values = [p.evaluate(ctx) for p in parts]
            result = ops[0](values[0], values[1])
            for op, a, b in zip(ops[1:], values[1:-1], values[2:], strict=True):
                result = np.logical_and(result, op(a, b))
            return result

        return self._combine(node, BOOLEAN, parts, evaluate)

    # -- functions ----------------------------------------------------------------------
    def _Call(self, node: ast.Call, depth: int) -> Node:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in _FUNCTIONS or node.keywords:
            raise self.fail(node, "only " + ", ".join(_FUNCTIONS) + " may be called")
        if name == "yoy":
            raise self.fail(node, f"yoy needs a year: {self.source(node)}[{self.year}]")
        return getattr(self, "_call_" + name)(node, depth)

    def _arity(self, node: ast.Call, count: int, usage: str) -> None:
        if len(node.args) != count:
            raise self.fail(node, f"expected {usage}")

    def _call_all(self, node: ast.Call, depth: int, reduce=np.all) -> Node:
        self._arity(node, 1, "one argument")
        inner = self.node(node.args[0], depth)
        if inner.kind != BOOLEAN or inner.span is None:
            raise self.fail(
                node,
                "all/any reduce a comparison over a year range, e.g. "
                f"all(yoy({self.series})[{self.range}] > 1.1)",
            )
        return Node(
            BOOLEAN,
            None,
            inner.keys,
            inner.inputs,
            lambda ctx, i=inner, r=reduce: r(i.evaluate(ctx), axis=0),
        )

    def _call_any(self, node: ast.Call, depth: int) -> Node:
        return self._call_all(node, depth, reduce=np.any)

    def _call_between(self, node: ast.Call, depth: int) -> Node:
        self._arity(node, 3, "between(value, low, high)")
        parts = [self.node(a, depth) for a in node.args]
        if any(p.kind != NUMBER for p in parts):
            raise self.fail(node, "between takes numbers")

        def evaluate(ctx, parts=parts):
            x, low, high = (p.evaluate(ctx) for p in parts)
            return np.logical_and(low <= x, x <= high)

        return self._combine(node, BOOLEAN, parts, evaluate)

    def _call_cagr(self, node: ast.Call, depth: int) -> Node:
        self._arity(node, 3, "cagr(series, first_year, last_year)")
        label = self._series_name(node.args[0])
        start, end = self._year(node.args[1]), self._year(node.args[2])
        if start >= end:
            raise self.fail(node, "cagr needs first_year before last_year")

        def evaluate(ctx, label=label, start=start, end=end):
            return growth_rate(ctx.column(label, end), ctx.column(label, start), end - start)

        return Node(NUMBER, None, frozenset({(label, start), (label, end)}), frozenset(), evaluate)

    def _call_input(self, node: ast.Call, depth: int) -> Node:
        self._arity(node, 1, 'input("name of an input")')
        name = node.args[0].value if isinstance(node.args[0], ast.Constant) else None
        if not isinstance(name, str) or name not in self.scope.inputs:
            hint = did_you_mean(str(name), self.scope.inputs) if isinstance(name, str) else ""
            raise self.fail(node, f"no input named {name!r}{hint}")
        return Node(
            NUMBER, None, frozenset(), frozenset([name]), lambda ctx, name=name: ctx.parameter(name)
        )

    def _call_crossover_year(self, node: ast.Call, depth: int) -> Node:
        self._arity(node, 1, "crossover_year(entity)")
        scope = self.scope
        entity = node.args[0].id if isinstance(node.args[0], ast.Name) else None
        if scope.rising is None:
            unknown = entity is not None and entity not in scope.series
            raise self.fail(
                node,
                "crossover_year needs a function split ([function_split]) and this model has "
                "none" + (f"; '{entity}' is no series either" if unknown else ""),
            )
        rising, falling = f"{entity}_{scope.rising}", f"{entity}_{scope.falling}"
        if entity is None or rising not in scope.series:
            options = [
                s.removesuffix("_" + scope.rising)
                for s in scope.series
                if s.endswith("_" + scope.rising)
            ]
            hint = did_you_mean(str(entity), options) or (
                f"; crossover_year takes one of {', '.join(options)}"
            )
            if entity is None:
                problem = "expected a series name"
            elif entity in scope.series:
                problem = f"'{entity}' has no {scope.rising}/{scope.falling} split"
            else:
                problem = f"unknown series '{entity}'"
            raise self.fail(node, f"{problem}{hint}")
        years = scope.years
        keys = {(label, y) for label in (rising, falling) for y in years}

        def evaluate(ctx, rising=rising, falling=falling, years=years):
            result = np.full(ctx.column(rising, years[0]).shape, np.inf)
            for year in reversed(years):
                result = np.where(
                    ctx.column(rising, year) >= ctx.column(falling, year), float(year), result
                )
            return result

        return Node(NUMBER, None, frozenset(keys), frozenset(), evaluate)


@dataclass(frozen=True)
class CompiledPrediction:
    """A configured prediction, ready to evaluate."""

    id: str
    text: str
    expr: str
    compiled: Prediction
