"""The DAG: dependency order, selection, unknown tables and cycles."""

from __future__ import annotations

import pytest

from datamill.exceptions import ConfigError, PipelineError
from datamill.pipeline import Dag, select


def test_order_follows_dependencies() -> None:
    dag = Dag.build({"features": ["customers", "plans"], "customers": [], "plans": [], "report": ["features"]})
    order = dag.order()
    assert order.index("customers") < order.index("features") < order.index("report")
    assert order.index("plans") < order.index("features")


def test_select_downstream_and_upstream() -> None:
    dag = Dag.build({"a": [], "b": ["a"], "c": ["b"], "d": ["a"], "x": []})
    assert select(dag, ["a+"]) == ["a", "b", "d", "c"] or set(select(dag, ["a+"])) == {"a", "b", "c", "d"}
    assert select(dag, ["+c"]) == ["a", "b", "c"]
    assert select(dag, ["x"]) == ["x"]


def test_select_unknown_node_suggests() -> None:
    dag = Dag.build({"customers": []})
    with pytest.raises(ConfigError, match="did you mean 'customers'"):
        select(dag, ["custmers+"])


def test_unknown_table_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        Dag.build({"features": ["custmers"], "customers": []})
    assert "reads table 'custmers'" in str(err.value) and "did you mean 'customers'" in str(err.value)


def test_existing_storage_table_is_external() -> None:
    dag = Dag.build({"features": ["legacy"]}, existing_tables=["legacy"])
    assert dag.external == {"legacy"} and dag.order() == ["features"]


def test_cycle_is_named() -> None:
    with pytest.raises(PipelineError) as err:
        Dag.build({"a": ["c"], "b": ["a"], "c": ["b"]})
    message = str(err.value)
    assert "cycle" in message and all(name in message for name in "abc")
