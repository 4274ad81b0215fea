"""DuckDB SQL for Spark: the translation rules SQLGlot's own DuckDB → Spark lacks (internal: may change).

Queries are written in DuckDB's dialect; SQLGlot translates them for Spark,
but where the two engines' functions share a name and differ in meaning, or
where Spark has no function of that name, its output fails or, worse, runs
and answers differently. Each rule below rewrites one DuckDB construct into
Spark SQL that gives the same result, null handling included; the engine
conformance suite (:mod:`datamill.testing.engine`) checks every one on both
engines. Some rules depend on a type (``len`` of a list or of text), which
:class:`~datamill.engine._sql_types.SqlTypes` infers from the input schemas.

Lists: ``len``/``length`` → ``size``; ``list_contains`` ignores null elements;
``x[i]``/``list_extract`` are 1-based, negative from the end and null out of
range; slices ``x[a:b]``/``list_slice``; ``list_distinct`` drops nulls;
``list_sum``/``list_avg``/``list_count``/``list_unique``/``list_first``/
``list_last``/``list_aggregate``/``list_reduce``; ``list``/``array_agg`` keep
nulls and their ``ORDER BY``; ``list_has_any``/``list_has_all``;
``list_concat`` of a null list; list comprehensions.
Maps: ``m[k]``, ``element_at``/``map_extract`` (a list in DuckDB),
``map_extract_value``, ``map_contains``, ``cardinality``, ``MAP {...}``.
Text: ``regexp_replace`` replaces the first match unless ``'g'`` and takes
``\\1`` back-references; regexp options (``'i'``, ``'c'``, ``'l'``, ``'g'``);
``regexp_full_match``; ``format('{}', ...)``.
Dates: ``date_diff``/``datediff`` count unit boundaries; day of week is 0-6
from Sunday; ``isodow``, ``week``, ``dayname``, ``monthname``, ``extract(second)``;
``strptime``, ``make_timestamp`` and ``epoch_ms(n)`` are naive timestamps;
``epoch``/``epoch_ms``/``epoch_us`` of a timestamp; ``to_timestamp``;
``to_days`` and friends; ``date - date`` is a number of days.
JSON: ``json_extract``/``->`` return JSON text (strings keep their quotes);
``json_array_length(j, path)``; ``json_valid``.
Aggregates: ``quantile_cont`` → ``percentile``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pyarrow as pa
import pyarrow.types as pt
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB

from datamill.engine._sql_types import SqlTypes, is_list, is_map, is_temporal
from datamill.exceptions import EngineError

__all__ = ["DuckDBAsWritten", "rewrite_for_spark"]

_E, _ACC = "_dm_e", "_dm_acc"  # lambda variables of the rules' own lambdas


class DuckDBAsWritten(DuckDB):
    """DuckDB's dialect, parsed without moving list indexes to base 0.

    SQLGlot's DuckDB parser subtracts 1 from indexes it types as integers and
    leaves others (``x[i]`` of an untyped ``i``) alone; the rules here see the
    index as the user wrote it and translate it with its DuckDB meaning.
    """

    INDEX_OFFSET = 0


def rewrite_for_spark(tree: exp.Expression, schemas: Mapping[str, pa.Schema]) -> exp.Expression:
    """Rewrite a parsed DuckDB query (in place) so that SQLGlot's Spark output means the same.

    Raises
    ------
    EngineError
        The query uses a DuckDB construct that has no Spark equivalent; the
        message names it and what to write instead.
    """
    types = SqlTypes(tree, schemas)
    types.annotate(tree)
    for node in reversed(list(tree.dfs())):  # children before their parents
        rule = _RULES.get(type(node))
        if rule is None and isinstance(node, exp.Anonymous):
            rule = _FUNCTIONS.get(node.name.lower())
        if rule is None:
            continue
        parent, key, index = node.parent, node.arg_key, node.index
        new = rule(node, types)
        if new is None or new is node:
            continue
        types.keep(node, new)
        if parent is None:
            tree = new
        else:
            parent.set(key, new, index)
    return tree


# -- building blocks ---------------------------------------------------------------
def _f(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _v(name: str) -> exp.Identifier:
    return exp.to_identifier(name)


def _lambda(body: exp.Expression, *names: str) -> exp.Lambda:
    return exp.Lambda(this=body, expressions=[_v(n) for n in names])


def _int(value: int) -> exp.Expression:
    literal = exp.Literal.number(abs(value))
    return exp.Neg(this=literal) if value < 0 else literal


def _str(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def _cast(node: exp.Expression, to: str) -> exp.Cast:
    return exp.Cast(this=node, to=exp.DataType.build(to, dialect="spark"))


def _is_null(node: exp.Expression) -> exp.Is:
    return exp.Is(this=node, expression=exp.Null())


def _case(*whens: tuple[exp.Expression, exp.Expression], default: exp.Expression | None = None) -> exp.Case:
    case = exp.Case()
    for cond, value in whens:
        case = case.when(cond, value)
    return case.else_(default) if default is not None else case


def _literal_int(node: exp.Expression | None) -> int | None:
    """The value of an integer literal (``-1`` parses as a negation), else ``None``."""
    if isinstance(node, exp.Literal) and node.is_int:
        return int(node.name)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and node.this.is_int:
        return -int(node.this.name)
    return None


def _literal_str(node: exp.Expression | None) -> str | None:
    return node.name if isinstance(node, exp.Literal) and node.is_string else None


def _args(node: exp.Anonymous, low: int, high: int | None = None) -> list[exp.Expression]:
    args = list(node.expressions)
    high = low if high is None else high
    if not low <= len(args) <= high:
        want = str(low) if low == high else f"{low} to {high}"
        raise EngineError(f"{node.name}() takes {want} arguments, got {len(args)}")
    return args


def _not_null_elements(x: exp.Expression) -> exp.ArrayFilter:
    return exp.ArrayFilter(this=x, expression=_lambda(exp.Not(this=_is_null(_v(_E))), _E))


# -- lists -------------------------------------------------------------------------
def _length(node: exp.Length, types: SqlTypes) -> exp.Expression | None:
    t = types.of(node.this)
    return exp.ArraySize(this=node.this) if is_list(t) or is_map(t) else None


def _contains(node: exp.ArrayContains, types: SqlTypes) -> exp.Expression:
    # Spark's array_contains is null when the list holds a null and no match; DuckDB's is false.
    found = exp.GT(this=exp.ArrayPosition(this=node.this, expression=node.expression), expression=_int(0))
    return exp.Paren(this=found)


def _element_at(x: exp.Expression, index: exp.Expression) -> exp.Expression:
    # DuckDB: 1-based, negative from the end, null when out of range or 0;
    # Spark's try_element_at is the same except that 0 is an error.
    value = _literal_int(index)
    if value is None or value == 0:
        index = _cast(exp.Nullif(this=index, expression=_int(0)), "INT")  # Spark's index is an INT
    return _f("TRY_ELEMENT_AT", x, index)


def _bound(value: exp.Expression | None, size: exp.Expression, *, start: bool) -> exp.Expression:
    """A DuckDB slice bound (1-based, inclusive, negative from the end) as a positive position."""
    if value is None:
        return _int(1) if start else size.copy()
    literal = _literal_int(value)
    if literal is not None and literal > 0:
        return value
    if literal == 0 and start:
        return _int(1)
    from_end = exp.Add(this=exp.Add(this=size.copy(), expression=value.copy()), expression=_int(1))
    if start:
        from_end = exp.Greatest(this=from_end, expressions=[_int(1)])
        positive: exp.Expression = exp.Greatest(this=value.copy(), expressions=[_int(1)])
    else:
        positive = value.copy()
    if literal is not None:
        return from_end
    return _case((exp.LT(this=value.copy(), expression=_int(0)), from_end), default=positive)


def _slice(x: exp.Expression, begin: exp.Expression | None, end: exp.Expression | None) -> exp.Expression:
    size = exp.ArraySize(this=x.copy())
    first = _bound(begin, size, start=True)
    last = _bound(end, size, start=False)
    length = exp.Add(this=exp.Sub(this=last, expression=first.copy()), expression=_int(1))
    return _f("SLICE", x, first, exp.Greatest(this=length, expressions=[_int(0)]))


def _bracket(node: exp.Bracket, types: SqlTypes) -> exp.Expression | None:
    if len(node.expressions) != 1:
        return None
    base, index = types.of(node.this), node.expressions[0]
    if isinstance(index, exp.Slice):
        if index.args.get("step") is not None:
            raise EngineError("list slices with a step (x[a:b:step]) cannot be translated for Spark")
        return _slice(node.this, index.this, index.expression)
    if is_map(base):
        return _f("TRY_ELEMENT_AT", node.this, index)
    if is_list(base) or (base is None and _literal_str(index) is None):
        return _element_at(node.this, index)
    return None


def _array_slice(node: exp.ArraySlice, types: SqlTypes) -> exp.Expression:
    return _slice(node.this, node.args.get("start"), node.args.get("end"))


def _list_slice(node: exp.Anonymous, types: SqlTypes) -> exp.Expression:
    x, begin, end = _args(node, 3)
    return _slice(x, begin, end)


def _list_extract(node: exp.Anonymous, types: SqlTypes) -> exp.Expression | None:
    x, index = _args(node, 2)
    t = types.of(x)
    if is_map(t):
        return _map_extract(node, types)
    return _element_at(x, index)


def _distinct(node: exp.ArrayDistinct, types: SqlTypes) -> exp.Expression:
    return exp.ArrayDistinct(this=_not_null_elements(node.this))


def _sum_type(node: exp.Anonymous, types: SqlTypes, x: exp.Expression) -> str:
    t = types.of(x)
    element = t.value_type if is_list(t) else None
    if element is not None and pt.is_integer(element):
        return "BIGINT"
    if element is not None and pt.is_floating(element):
        return "DOUBLE"
    if element is not None and pt.is_decimal(element):
        return f"DECIMAL(38, {element.scale})"
    raise EngineError(
        f"{node.name}() over a list of {element or 'unknown type'} cannot be translated for Spark "
        "(fix: cast the list to a numeric list type first, e.g. cast(x AS BIGINT[]))"
    )


def _list_sum(x: exp.Expression, to: str) -> exp.Expression:
    acc, e = _v(_ACC), _v(_E)
    merge = _case(
        (_is_null(e.copy()), acc.copy()),
        (_is_null(acc.copy()), _cast(e.copy(), to)),
        default=_cast(exp.Add(this=acc.copy(), expression=e.copy()), to),
    )
    return _f("AGGREGATE", x, _cast(exp.Null(), to), _lambda(merge, _ACC, _E))


def _list_avg(x: exp.Expression) -> exp.Expression:
    def field(name: str) -> exp.Expression:
        return exp.Dot(this=_v(_ACC), expression=_v(name))

    zero = _f("NAMED_STRUCT", _str("s"), _cast(_int(0), "DOUBLE"), _str("n"), _cast(_int(0), "BIGINT"))
    step = _f("NAMED_STRUCT", _str("s"), exp.Add(this=field("s"), expression=_cast(_v(_E), "DOUBLE")),
              _str("n"), exp.Add(this=field("n"), expression=_int(1)))
    finish = _case((exp.EQ(this=field("n"), expression=_int(0)), exp.Null()),
                   default=exp.Div(this=field("s"), expression=field("n")))
    return _f("AGGREGATE", _not_null_elements(x), zero, _lambda(step, _ACC, _E), _lambda(finish, _ACC))


def _list_function(name: str, node: exp.Anonymous, types: SqlTypes, x: exp.Expression,
                   extra: list[exp.Expression]) -> exp.Expression:
    if name == "sum":
        return _list_sum(x, _sum_type(node, types, x))
    if name in ("avg", "mean"):
        return _list_avg(x)
    if name == "count":
        return exp.ArraySize(this=_not_null_elements(x))
    if name == "unique":
        return exp.ArraySize(this=exp.ArrayDistinct(this=_not_null_elements(x)))
    if name == "min":
        return exp.ArrayMin(this=x)
    if name == "max":
        return exp.ArrayMax(this=x)
    if name == "first":
        return _f("TRY_ELEMENT_AT", x, _int(1))
    if name == "last":
        return _f("TRY_ELEMENT_AT", x, _int(-1))
    if name in ("string_agg", "group_concat") and len(extra) <= 1:
        return _f("ARRAY_JOIN", x, extra[0] if extra else _str(","))
    raise EngineError(
        f"{node.name}() with '{name}' cannot be translated for Spark (fix: unnest the list and "
        f"aggregate with GROUP BY, or use list_sum, list_avg, list_count, list_min, list_max)"
    )


def _list_aggregate_named(name: str) -> Callable[[exp.Anonymous, SqlTypes], exp.Expression]:
    def rule(node: exp.Anonymous, types: SqlTypes) -> exp.Expression:
        (x,) = _args(node, 1)
        return _list_function(name, node, types, x, [])

    return rule


def _list_aggregate(node: exp.Anonymous, types: SqlTypes) -> exp.Expression:
    x, how, *extra = _args(node, 2, 3)
    name = _literal_str(how)
    if name is None:
        raise EngineError(f"{node.name}(): the aggregate's name must be a literal string, such as 'sum'")
    return _list_function(name.lower(), node, types, x, extra)


def _list_reduce(node: exp.Anonymous, types: SqlTypes) -> exp.Expression:
    x, merge, *initial = _args(node, 2, 3)
    if initial:
        # Spark wants the merge to return the initial value's type: give it the elements'.
        element = types.of(x).value_type if is_list(types.of(x)) else None
        start = initial[0]
        if element is not None and (pt.is_integer(element) or pt.is_floating(element)):
            start = _cast(start, "BIGINT" if pt.is_integer(element) else "DOUBLE")
        return _f("REDUCE", x, start, merge)
    rest = _f("SLICE", x.copy(), _int(2), exp.ArraySize(this=x.copy()))
    return _f("REDUCE", rest, _f("TRY_ELEMENT_AT", x, _int(1)), merge)


def _position(node: exp.Expression, types: SqlTypes) -> exp.Expression:
    x, value = (node.this, node.expression) if isinstance(node, exp.ArrayPosition) else _args(node, 2)
    # Spark says 0 when the value is absent, DuckDB null.
    return exp.Nullif(this=exp.ArrayPosition(this=x, expression=value), expression=_int(0))


def _has_any(node: exp.ArrayOverlaps, types: SqlTypes) -> exp.Expression:
    a, b = node.this, node.expression
    hit = exp.Coalesce(this=exp.GT(this=exp.ArrayPosition(this=b.copy(), expression=_v(_E)), expression=_int(0)),
                       expressions=[exp.false()])
    return _case((exp.or_(_is_null(a.copy()), _is_null(b.copy())), exp.Null()),
                 default=_f("EXISTS", a, _lambda(hit, _E)))


def _has_all(node: exp.Anonymous, types: SqlTypes) -> exp.Expression:
    a, b = _args(node, 2)
    found = exp.or_(_is_null(_v(_E)), exp.GT(this=exp.ArrayPosition(this=a.copy(), expression=_v(_E)),
                                             expression=_int(0)))
    return _case((exp.or_(_is_null(a.copy()), _is_null(b.copy())), exp.Null()),
                 default=_f("FORALL", b, _lambda(found, _E)))


def _concat(node: exp.ArrayConcat, types: SqlTypes) -> exp.Expression:
    # DuckDB's list_concat treats a null list as empty.
    lists = [node.this, *node.expressions]
    return _f("CONCAT", *[exp.Coalesce(this=x, expressions=[exp.Array()]) for x in lists])


def _flatten(node: exp.Flatten, types: SqlTypes) -> exp.Expression:
    # Spark's flatten is null when an inner list is; DuckDB's skips it.
    return exp.Flatten(this=_not_null_elements(node.this))


def _comprehension(node: exp.Array, types: SqlTypes) -> exp.Expression | None:
    if len(node.expressions) != 1 or not isinstance(node.expressions[0], exp.Comprehension):
        return None
    comp = node.expressions[0]
    name = comp.expression.name
    source = comp.args["iterator"]
    if comp.args.get("condition") is not None:
        source = exp.ArrayFilter(this=source, expression=_lambda(comp.args["condition"], name))
    return exp.Transform(this=source, expression=_lambda(comp.this, name))


def _array_agg(node: exp.ArrayAgg, types: SqlTypes) -> exp.Expression | None:
    """``list(x ORDER BY k)`` keeps nulls and the order: collect (x, k) structs, sort, unwrap."""
    inner = node.this
    if isinstance(inner, exp.Distinct):
        return None  # collect_set: nulls are dropped by both engines' DISTINCT
    order = inner.expressions if isinstance(inner, exp.Order) else []
    value = inner.this if isinstance(inner, exp.Order) else inner
    fields: list[exp.Expression] = [_str("v"), value]
    for i, ordered in enumerate(order):
        fields += [_str(f"k{i}"), ordered.this]
    collected: exp.Expression = exp.Anonymous(this="COLLECT_LIST", expressions=[_f("NAMED_STRUCT", *fields)])
    top = node
    while isinstance(top.parent, exp.Window | exp.Filter) and top.arg_key == "this":
        top = top.parent

    def unwrap(agg: exp.Expression) -> exp.Expression:
        if order:
            agg = _f("ARRAY_SORT", agg, _comparator(order))
        values = exp.Transform(this=agg, expression=_lambda(exp.Dot(this=_v(_E), expression=_v("v")), _E))
        # DuckDB gives null, not an empty list, when no row was aggregated.
        return _case((exp.EQ(this=exp.ArraySize(this=agg.copy()), expression=_int(0)), exp.Null()), default=values)

    if top is node:
        return unwrap(collected)
    node.replace(collected)
    holder = exp.Null()
    top.replace(holder)
    holder.replace(unwrap(top))
    return collected


def _comparator(order: list[exp.Ordered]) -> exp.Lambda:
    """A Spark ``array_sort`` comparator for ``ORDER BY`` keys k0, k1, ... (DuckDB puts nulls last)."""
    result: exp.Expression = _int(0)
    for i in reversed(range(len(order))):
        ordered = order[i]
        desc = bool(ordered.args.get("desc"))
        nulls_first = bool(ordered.args.get("nulls_first"))
        left = exp.Dot(this=_v("_dm_l"), expression=_v(f"k{i}"))
        right = exp.Dot(this=_v("_dm_r"), expression=_v(f"k{i}"))
        result = _case(
            (exp.and_(_is_null(left.copy()), _is_null(right.copy())), result),
            (_is_null(left.copy()), _int(-1 if nulls_first else 1)),
            (_is_null(right.copy()), _int(1 if nulls_first else -1)),
            (exp.LT(this=left.copy(), expression=right.copy()), _int(1 if desc else -1)),
            (exp.GT(this=left.copy(), expression=right.copy()), _int(-1 if desc else 1)),
            default=result,
        )
    return _lambda(result, "_dm_l", "_dm_r")


# -- maps --------------------------------------------------------------------------
def _map_extract(node: exp.Anonymous, types: SqlTypes) -> exp.Expression | None:
    m, key = _args(node, 2)
    if not is_map(types.of(m)):
        return _element_at(m, key) if is_list(types.of(m)) else None
    # DuckDB's map_extract (and element_at) give a list: [value], or [] for a missing key.
    return _case(
        (_is_null(m.copy()), exp.Null()),
        (_f("MAP_CONTAINS_KEY", m.copy(), key.copy()), exp.Array(expressions=[_f("TRY_ELEMENT_AT", m, key)])),
        default=exp.Array(),
    )


def _map_value(node: exp.Anonymous, types: SqlTypes) -> exp.Expression:
    m, key = _args(node, 2)
    return _f("TRY_ELEMENT_AT", m, key)


def _map_contains(node: exp.Anonymous, types: SqlTypes) -> exp.Expression:
    m, key = _args(node, 2)
    return _f("MAP_CONTAINS_KEY", m, key)


def _cardinality(node: exp.Anonymous, types: SqlTypes) -> exp.Expression:
    (m,) = _args(node, 1)
    return exp.ArraySize(this=m)


def _map_literal(node: exp.ToMap, types: SqlTypes) -> exp.Expression | None:
    struct = node.this
    if not isinstance(struct, exp.Struct):
        return None
    args: list[exp.Expression] = []
    for item in struct.expressions:
        if not isinstance(item, exp.PropertyEQ):
            return None
        key = item.this
        args += [_str(key.name) if isinstance(key, exp.Identifier) else key, item.expression]
    return _f("MAP", *args)


RuleTable = dict[type, Callable[..., exp.Expression | None]]
_RULES: RuleTable = {}
_FUNCTIONS: dict[str, Callable[..., exp.Expression | None]] = {}


def _register() -> None:
    from datamill.engine import _spark_sql_more as more

    _RULES.update({
        exp.Length: _length,
        exp.ArrayContains: _contains,
        exp.Bracket: _bracket,
        exp.ArraySlice: _array_slice,
        exp.ArrayDistinct: _distinct,
        exp.ArrayPosition: _position,
        exp.ArrayOverlaps: _has_any,
        exp.ArrayConcat: _concat,
        exp.Flatten: _flatten,
        exp.Array: _comprehension,
        exp.ArrayAgg: _array_agg,
        exp.ToMap: _map_literal,
        **more.RULES,
    })
    _FUNCTIONS.update({
        "list_slice": _list_slice,
        "list_extract": _list_extract,
        "list_element": _list_extract,
        "array_extract": _list_extract,
        "element_at": _map_extract,
        "map_extract": _map_extract,
        "map_extract_value": _map_value,
        "map_contains": _map_contains,
        "map_contains_key": _map_contains,
        "cardinality": _cardinality,
        "list_aggregate": _list_aggregate,
        "array_aggregate": _list_aggregate,
        "list_aggr": _list_aggregate,
        "list_reduce": _list_reduce,
        "array_reduce": _list_reduce,
        "list_position": _position,
        "list_indexof": _position,
        "list_has_all": _has_all,
        "array_has_all": _has_all,
        **{f"list_{name}": _list_aggregate_named(name) for name in ("sum", "avg", "count", "unique", "first", "last")},
        **{f"array_{name}": _list_aggregate_named(name) for name in ("sum", "avg", "count", "unique")},
        **more.FUNCTIONS,
    })


_register()
