"""``datamill.Project``: the Python face of a project folder, for notebooks and scripts.

Examples
--------
>>> import datamill                                   # doctest: +SKIP
>>> p = datamill.Project("demo")                      # doctest: +SKIP
>>> p.run()                                           # doctest: +SKIP
>>> p.sql("select count(*) from customers", as_="pandas")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from datamill._deps import require
from datamill.config import ProjectConfig, load_config
from datamill.exceptions import ConfigError

__all__ = ["Project"]

Output = Literal["arrow", "pandas", "polars"]


def _convert(table: pa.Table, as_: Output) -> Any:
    if as_ == "arrow":
        return table
    if as_ == "pandas":
        require("pandas", purpose="as_='pandas'")
        return table.to_pandas()
    if as_ == "polars":
        return require("polars", purpose="as_='polars'").from_arrow(table)
    raise ConfigError(f"as_={as_!r}: choose 'arrow', 'pandas' or 'polars'")


class Project:
    """A datamill project: its config, storage and engine, opened lazily.

    Parameters
    ----------
    path
        The project folder or its ``datamill.yaml``; by default the nearest one
        above the current folder.
    env
        Variables for ``${VAR}`` in the project file (default: the environment).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, env: dict[str, str] | None = None) -> None:
        self.config: ProjectConfig
        self.config, self.file = load_config(path, env=env)
        self.root = self.file.parent.resolve()
        self._storage: Any = None
        self._engine: Any = None

    def __repr__(self) -> str:
        return f"Project({self.config.name!r}, root={str(self.root)!r})"

    @property
    def storage(self) -> Any:
        """The project's :class:`~datamill.storage.Storage`, opened on first use."""
        if self._storage is None:
            from datamill.storage import STORAGES

            spec = self.config.storage
            cls = STORAGES.load(spec.type)
            self._storage = cls(spec.parsed or cls.Options.model_validate(spec.options), project_dir=self.root)
        return self._storage

    @property
    def engine(self) -> Any:
        """The project's :class:`~datamill.engine.Engine`, started on first use."""
        if self._engine is None:
            from datamill.engine import ENGINES

            spec = self.config.engine
            cls = ENGINES.load(spec.type)
            self._engine = cls(spec.parsed or cls.Options.model_validate(spec.options))
        return self._engine

    def tables(self) -> list[str]:
        """Names of the tables in storage."""
        return self.storage.list()

    def table(self, name: str, *, version: int | None = None, as_: Output = "arrow") -> Any:
        """Read a table (a past ``version`` where the storage keeps them)."""
        return _convert(self.storage.read(name, version), as_)

    def sql(self, query: str, *, as_: Output = "arrow") -> Any:
        """Run a query (DuckDB's dialect) over the tables in storage."""
        return _convert(self.relation(query).to_arrow(), as_)

    def relation(self, query: str) -> Any:
        """A lazy :class:`~datamill.engine.Relation` for ``query`` over the storage tables."""
        from datamill.engine.sql import referenced_tables

        names = referenced_tables(query)
        return self.engine.sql(query, {name: self.storage.scan(name) for name in names})

    def profile(self, name: str, target: str | None = None, *, exact: bool = False) -> Any:
        """Profile table ``name`` on the project's engine; a :class:`~datamill.profile.Profile`.

        ``target``: a column to analyse the others against; ``exact``: every statistic on
        every row (see :func:`datamill.profile.profile`).
        """
        from datamill.profile import profile

        if name not in self.tables():
            from datamill._registry import did_you_mean

            tables = self.tables()
            raise ConfigError(f"no table '{name}' in storage{did_you_mean(name, tables)}; tables: "
                              f"{', '.join(tables) or 'none yet (run `datamill run`)'}")
        return profile(self.storage.scan(name), target=target, engine=self.engine, name=name, exact=exact)

    def dag(self) -> Any:
        """The pipeline's DAG (checks references and cycles)."""
        from datamill.pipeline import build_dag, build_nodes

        return build_dag(build_nodes(self.config), self._existing_tables())

    def _existing_tables(self) -> list[str]:
        try:
            return self.storage.list()
        except Exception:  # storage unreachable: references are checked against the project only
            return []

    def run(self, select: Iterable[str] = (), *, full_refresh: bool = False, progress: Any = None,
            run_id: str | None = None) -> Any:
        """Run the pipeline; return its :class:`~datamill.pipeline.RunRecord` (recorded as ``run_id`` if given)."""
        from datamill.pipeline import run_pipeline

        return run_pipeline(
            self.config, self.root, self.storage, self.engine,
            selection=list(select), full_refresh=full_refresh, progress=progress, run_id=run_id,
        )

    def model_inputs(self, name: str) -> list[str]:
        """What ``train(name)`` builds first: ``["+TABLE"]`` for a model reading a pipeline node, else ``[]``.

        Raises a ConfigError for a name that is not under ``models:``.
        """
        if name not in self.config.models:
            from datamill._registry import did_you_mean

            raise ConfigError(f"no model '{name}' under models:{did_you_mean(name, self.config.models)}; "
                              f"models: {', '.join(self.config.models) or 'none (add a models: block)'}")
        table = self.config.models[name].from_
        return [f"+{table}"] if table in self.config.sources or table in self.config.datasets else []

    def train(self, name: str, *, trials: int | None = None, timeout: float | None = None, progress: Any = None,
              build: bool = True) -> Any:
        """Train the ``models:`` entry ``name`` now and register it; return its :class:`~datamill.ml.TrainResult`.

        The new version is ``result.model_version`` in the model store (:mod:`datamill.registry`).

        With ``build``, the tables it reads are built first where missing or stale,
        as ``datamill run --select +TABLE`` would (a run record of its own).
        """
        from datamill.registry import train_and_register

        inputs = self.model_inputs(name)
        spec = self.config.models[name]
        if build and inputs:
            _inputs_built(name, self.run(inputs))
        if spec.from_ not in self.tables():
            raise ConfigError(f"model '{name}' reads table '{spec.from_}', which is not in storage yet "
                              f"(fix: datamill run --select +{spec.from_})")
        from datamill.monitor.reference import reference_hook

        return train_and_register(self.root, self.config.name, name, spec, self.storage, trials=trials,
                                  timeout=timeout, progress=progress, project_file=self.file,
                                  after_register=reference_hook(self.engine, self.storage))

    def predict(self, model: str, *, table: str, output: str, tracking_uri: str | None = None,
                progress: Any = None, run_id: str | None = None) -> Any:
        """Score table ``table`` with registered ``model`` into table ``output``; a :class:`~datamill.pipeline.predictions.Scored`.

        ``model`` is ``NAME`` (its latest version), ``NAME@ALIAS`` or
        ``NAME/VERSION`` in the project's model store (or ``tracking_uri``'s).
        Scoring runs on the project's engine; ``output`` gets ``table``'s
        columns, the prediction (and class probabilities), and the model's
        name and version on every row. The scoring is recorded as a run
        (``datamill runs``) under ``run_id`` (default: a new one).
        """
        from datamill.pipeline.predictions import predict_recorded

        self._check_output(table, output)
        if table not in self.tables():
            from datamill._registry import did_you_mean

            tables = self.tables()
            raise ConfigError(f"no table '{table}' in storage to score{did_you_mean(table, tables)}; tables: "
                              f"{', '.join(tables) or 'none yet (run `datamill run`)'}")
        return predict_recorded(self.root, self.config.name, self.engine, self.storage, model, table, output,
                                tracking_uri=tracking_uri, progress=progress, run_id=run_id)

    def _check_output(self, table: str, output: str) -> None:
        import re

        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", output):
            raise ConfigError(f"output table '{output}': use letters, digits and _ and start with a letter")
        if output == table:
            raise ConfigError(f"output table '{output}' is the table being scored: write the scores to a table of "
                              f"their own (e.g. {table}_scored)")
        owned = {**{n: "source" for n in self.config.sources}, **{n: "dataset" for n in self.config.datasets}}
        if output in owned:
            raise ConfigError(f"output table '{output}' is a {owned[output]} of this project: scoring would "
                              f"overwrite it (fix: --output {output}_scored)")

    def runs(self) -> list[Any]:
        """Recorded runs, newest first."""
        from datamill.pipeline import RunStore

        return RunStore(self.root).list()

    def close(self) -> None:
        for part in (self._engine, self._storage):
            if part is not None:
                part.close()
        self._engine = self._storage = None

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _inputs_built(model: str, record: Any) -> None:
    """Raise a PipelineError if ``record``, the run that built ``model``'s inputs, did not end ok."""
    from datamill.exceptions import PipelineError

    if record.status == "ok":
        return
    failed = "; ".join(f"{n.name} {n.status}" + (f" ({n.error.splitlines()[0]})" if n.error else "")
                       for n in record.failed)
    raise PipelineError(f"model '{model}' was not trained: building its inputs failed: {failed} "
                        f"(details: datamill runs {record.run_id})")
