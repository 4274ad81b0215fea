"""The Arrow type of a SQL expression, as far as the input schemas tell (internal: may change).

Translating DuckDB SQL for Spark sometimes depends on types SQLGlot does not
track: ``len(x)`` is ``size`` on a list but ``length`` on text, ``x[1]`` is a
list element or a map value, ``a - b`` of two dates is a number of days.
:class:`SqlTypes` infers what it can from the input tables' Arrow schemas,
casts, literals and the functions whose result type is plain, through CTEs,
subqueries, struct fields and lambda variables; anything else is ``None``
(unknown), and the rules that need a type then keep SQLGlot's translation.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pyarrow.types as pt
from sqlglot import exp

__all__ = ["SqlTypes", "arrow_of", "is_list", "is_map", "is_temporal"]

_KEY = "datamill_arrow_type"
_T = exp.DataType.Type
_SIMPLE = {
    _T.TEXT: pa.string(), _T.VARCHAR: pa.string(), _T.CHAR: pa.string(), _T.NVARCHAR: pa.string(),
    _T.BIGINT: pa.int64(), _T.INT: pa.int64(), _T.SMALLINT: pa.int64(), _T.TINYINT: pa.int64(),
    _T.UBIGINT: pa.int64(), _T.UINT: pa.int64(), _T.INT128: pa.int64(),
    _T.DOUBLE: pa.float64(), _T.FLOAT: pa.float64(), _T.BOOLEAN: pa.bool_(), _T.DATE: pa.date32(),
    _T.TIMESTAMP: pa.timestamp("us"), _T.DATETIME: pa.timestamp("us"), _T.TIMESTAMP_NS: pa.timestamp("us"),
    _T.TIMESTAMPTZ: pa.timestamp("us", tz="UTC"), _T.TIMESTAMPLTZ: pa.timestamp("us", tz="UTC"),
    _T.JSON: pa.string(),
}
_UNKNOWN_LIST = pa.list_(pa.null())  # a list whose element type is unknown
_STRING_LISTS = (exp.Split, exp.RegexpSplit, exp.RegexpExtractAll, exp.StringToArray, exp.JSONKeys)
_SAME_AS_FIRST = (
    exp.Paren, exp.Alias, exp.ArraySort, exp.ArrayDistinct, exp.ArrayFilter, exp.ArrayConcat, exp.ArraySlice,
    exp.Window, exp.Filter, exp.Coalesce, exp.Max, exp.Min, exp.AnyValue, exp.First, exp.Last, exp.Neg,
)
_ELEMENT_OF_FIRST = (exp.ArrayMin, exp.ArrayMax, exp.Explode, exp.Unnest)
_ANONYMOUS_ELEMENT = {"list_extract", "list_element", "array_extract", "list_first", "list_last", "list_any_value"}
_ANONYMOUS_SAME = {"list_slice", "list_reverse", "array_reverse", "list_sort", "list_distinct"}


def is_list(t: pa.DataType | None) -> bool:
    return t is not None and (pt.is_list(t) or pt.is_large_list(t) or pt.is_fixed_size_list(t))


def is_map(t: pa.DataType | None) -> bool:
    return t is not None and pt.is_map(t)


def is_temporal(t: pa.DataType | None) -> bool:
    return t is not None and (pt.is_date(t) or pt.is_timestamp(t))


def arrow_of(dt: exp.DataType) -> pa.DataType | None:
    """The Arrow type of a SQL type, as the engines give it back (integers as int64).

    Examples
    --------
    >>> arrow_of(exp.DataType.build("VARCHAR[]", dialect="duckdb"))
    ListType(list<item: string>)
    """
    kind = dt.this
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    params = dt.expressions
    if kind in (_T.ARRAY, _T.LIST) and params:
        return pa.list_(arrow_of(params[0]) or pa.null())
    if kind == _T.MAP and len(params) == 2:
        return pa.map_(arrow_of(params[0]) or pa.string(), arrow_of(params[1]) or pa.null())
    if kind == _T.STRUCT:
        fields = [(p.name, arrow_of(p.args["kind"]) or pa.null()) for p in params if isinstance(p, exp.ColumnDef)]
        return pa.struct(fields)
    if kind == _T.DECIMAL:
        numbers = [int(p.this.name) for p in params if isinstance(p, exp.DataTypeParam)]
        return pa.decimal128(*numbers) if len(numbers) == 2 else pa.decimal128(18, 3)
    return None


def _element(t: pa.DataType | None) -> pa.DataType | None:
    if is_list(t):
        return t.value_type
    return None


def _field(t: pa.DataType | None, name: str) -> pa.DataType | None:
    if t is not None and pt.is_struct(t) and t.get_field_index(name) >= 0:
        return t.field(name).type
    return None


class SqlTypes:
    """Infers and remembers the Arrow type of each node of one query tree.

    Parameters
    ----------
    tree
        The parsed query (DuckDB dialect).
    schemas
        Input table name -> Arrow schema.
    """

    def __init__(self, tree: exp.Expression, schemas: Mapping[str, pa.Schema]) -> None:
        self._inputs = {name: {f.name: f.type for f in schema} for name, schema in schemas.items()}
        self._ctes = {cte.alias_or_name: cte.this for cte in tree.find_all(exp.CTE)}

    def annotate(self, tree: exp.Expression) -> None:
        """Infer every node's type now, before a rewrite moves nodes around."""
        for node in tree.walk():
            self.of(node)

    @staticmethod
    def keep(old: exp.Expression, new: exp.Expression) -> exp.Expression:
        """Give ``new`` (which replaces ``old``) the type ``old`` had."""
        if _KEY in old.meta:
            new.meta[_KEY] = old.meta[_KEY]
        return new

    def of(self, node: exp.Expression | None) -> pa.DataType | None:
        """``node``'s Arrow type, or ``None`` when unknown."""
        if node is None or not isinstance(node, exp.Expression):
            return None
        if _KEY not in node.meta:
            node.meta[_KEY] = None  # guards against cycles through CTEs
            node.meta[_KEY] = self._infer(node)
        return node.meta[_KEY]

    # -- inference -----------------------------------------------------------------
    def _infer(self, node: exp.Expression) -> pa.DataType | None:  # noqa: C901 - one branch per node kind
        if isinstance(node, _SAME_AS_FIRST):
            return self.of(node.this)
        if isinstance(node, exp.Column):
            return self._column(node)
        if isinstance(node, exp.Identifier):
            return self._lambda_variable(node)
        if isinstance(node, exp.Dot):
            return _field(self.of(node.this), node.name)
        if isinstance(node, exp.Bracket):
            return self._bracket(node)
        if isinstance(node, exp.Cast | exp.TryCast):
            return arrow_of(node.to)
        if isinstance(node, exp.Literal):
            return pa.string() if node.is_string else (pa.int64() if node.is_int else pa.float64())
        if isinstance(node, exp.Array):
            return self._array(node)
        if isinstance(node, exp.Struct):
            return self._struct(node)
        if isinstance(node, exp.ToMap | exp.VarMap | exp.Map):
            return pa.map_(pa.string(), pa.null())
        if isinstance(node, _STRING_LISTS):
            return pa.list_(pa.string())
        if isinstance(node, _ELEMENT_OF_FIRST):
            return _element(self.of(node.this))
        if isinstance(node, exp.ArrayAgg):
            inner = node.this.this if isinstance(node.this, exp.Order) else node.this
            return pa.list_(self.of(inner) or pa.null())
        if isinstance(node, exp.Transform):
            body = node.expression.this if isinstance(node.expression, exp.Lambda) else None
            return pa.list_(self.of(body) or pa.null())
        if isinstance(node, exp.Flatten):
            return _element(self.of(node.this))
        if isinstance(node, exp.MapKeys):
            t = self.of(node.this)
            return pa.list_(t.key_type) if is_map(t) else _UNKNOWN_LIST
        if isinstance(node, exp.Case | exp.If):
            return self._branches(node)
        if isinstance(node, exp.Subquery):
            return self._first_output(node.this)
        if isinstance(node, exp.Anonymous):
            return self._anonymous(node)
        return self._temporal(node)

    def _temporal(self, node: exp.Expression) -> pa.DataType | None:
        if isinstance(node, exp.CurrentDate | exp.DateFromParts | exp.LastDay):
            return pa.date32()
        if isinstance(node, exp.StrToTime | exp.TimestampFromParts):
            return pa.timestamp("us")
        if isinstance(node, exp.TimestampTrunc | exp.DateTrunc):
            t = self.of(node.this)
            return t if t is not None and pt.is_timestamp(t) and t.tz else pa.timestamp("us")
        if isinstance(node, exp.Add | exp.Sub):
            left, right = self.of(node.this), self.of(node.expression)
            if isinstance(node, exp.Sub) and left == pa.date32() and right == pa.date32():
                return pa.int64()
            if is_temporal(left) and isinstance(node.expression, exp.Interval):
                return pa.timestamp("us") if left == pa.date32() else left
            if left == pa.date32() and right is not None and pt.is_integer(right):
                return left
        return None

    def _column(self, col: exp.Column) -> pa.DataType | None:
        bound = self._lambda_variable(col)
        if bound is not None:
            return bound
        parts = [p.name for p in col.parts]
        if len(parts) > 1:  # a struct field of a lambda variable: lambda x: x.qty
            base = self._lambda_variable(exp.column(parts[0]), start=col)
            for name in parts[1:]:
                base = _field(base, name)
            if base is not None:
                return base
        scope: exp.Expression | None = col
        while scope is not None:
            select = scope.find_ancestor(exp.Select)
            if select is None:
                return None
            sources = self._sources(select)
            if len(parts) > 1 and parts[0] in sources:
                base, rest = sources[parts[0]].get(parts[1]), parts[2:]
            else:
                found = [s[parts[0]] for s in sources.values() if parts[0] in s]
                base, rest = (found[0] if found else None), parts[1:]
            if base is not None:
                for name in rest:
                    base = _field(base, name)
                return base
            scope = select  # a correlated subquery: look in the enclosing query
        return None

    def _lambda_variable(self, col: exp.Column | exp.Identifier, start: exp.Expression | None = None
                         ) -> pa.DataType | None:
        """The type of ``col`` when a lambda or list comprehension around ``start`` (default ``col``) binds it."""
        if isinstance(col, exp.Column) and col.table:
            return None
        node = (start or col).parent
        while node is not None:
            if isinstance(node, exp.Lambda) and col.name in [e.name for e in node.expressions]:
                func = node.parent
                list_type = self.of(func.this) if func is not None else None
                if node.expressions[0].name == col.name:
                    return _element(list_type)
                return pa.int64()  # the index of ``lambda x, i: ...``
            if isinstance(node, exp.Comprehension) and node.expression.name == col.name:
                return _element(self.of(node.args.get("iterator")))
            node = node.parent
        return None

    def _sources(self, select: exp.Select) -> dict[str, dict[str, pa.DataType | None]]:
        """Alias -> column types of each table the SELECT reads in its FROM and JOINs."""
        found: dict[str, dict[str, pa.DataType | None]] = {}
        from_ = select.args.get("from_") or select.args.get("from")
        tables = [from_.this] if from_ is not None else []
        tables += [j.this for j in select.args.get("joins") or []]
        for source in tables:
            if isinstance(source, exp.Table):
                if source.name in self._inputs:
                    found[source.alias_or_name] = dict(self._inputs[source.name])
                elif source.name in self._ctes:
                    found[source.alias_or_name] = self._outputs(self._ctes[source.name])
            elif isinstance(source, exp.Subquery):
                found[source.alias_or_name] = self._outputs(source.this)
        return found

    def _outputs(self, query: exp.Expression) -> dict[str, pa.DataType | None]:
        if isinstance(query, exp.SetOperation):
            return self._outputs(query.this)
        if not isinstance(query, exp.Select):
            return {}
        out: dict[str, pa.DataType | None] = {}
        for projection in query.expressions:
            if isinstance(projection, exp.Star):
                for columns in self._sources(query).values():
                    out.update(columns)
            else:
                out[projection.alias_or_name] = self.of(projection)
        return out

    def _first_output(self, query: exp.Expression) -> pa.DataType | None:
        outputs = list(self._outputs(query).values())
        return outputs[0] if outputs else None

    def _bracket(self, node: exp.Bracket) -> pa.DataType | None:
        base = self.of(node.this)
        index = node.expressions[0] if node.expressions else None
        if isinstance(index, exp.Slice):
            return base
        if is_list(base):
            return base.value_type
        if is_map(base):
            return base.item_type
        if isinstance(index, exp.Literal) and index.is_string:
            return _field(base, index.name)
        return None

    def _array(self, node: exp.Array) -> pa.DataType | None:
        if node.expressions and isinstance(node.expressions[0], exp.Comprehension):
            return pa.list_(self.of(node.expressions[0].this) or pa.null())
        types = [self.of(e) for e in node.expressions]
        known = [t for t in types if t is not None and t != pa.null()]
        return pa.list_(known[0] if known else pa.null())

    def _struct(self, node: exp.Struct) -> pa.DataType:
        fields = []
        for item in node.expressions:
            if isinstance(item, exp.PropertyEQ | exp.Alias):
                name = item.this.name if isinstance(item, exp.PropertyEQ) else item.alias
                fields.append((name, self.of(item.expression if isinstance(item, exp.PropertyEQ) else item.this)))
        return pa.struct([(n, t or pa.null()) for n, t in fields])

    def _branches(self, node: exp.Expression) -> pa.DataType | None:
        if isinstance(node, exp.If):
            candidates = [node.args.get("true"), node.args.get("false")]
        else:
            candidates = [i.args.get("true") for i in node.args.get("ifs") or []] + [node.args.get("default")]
        for candidate in candidates:
            t = self.of(candidate)
            if t is not None and t != pa.null():
                return t
        return None

    def _anonymous(self, node: exp.Anonymous) -> pa.DataType | None:
        name = node.name.lower()
        first = self.of(node.expressions[0]) if node.expressions else None
        if name in _ANONYMOUS_ELEMENT:
            return _element(first)
        if name in _ANONYMOUS_SAME:
            return first
        if name == "map_values":
            return pa.list_(first.item_type) if is_map(first) else _UNKNOWN_LIST
        if name == "map_extract_value":
            return first.item_type if is_map(first) else None
        if name in ("map_extract", "element_at") and is_map(first):
            return pa.list_(first.item_type)
        if name in ("element_at",) and is_list(first):
            return first.value_type
        return None
