"""``ModelStore``: MLflow's model registry, with aliases that keep their history.

The embedded default is the project's SQLite store
(``sqlite:///<project>/.datamill/mlflow.db``); a tracking server is used by URI.
MLflow is imported when the store is first used, never at import.

Several processes may use one SQLite store at once (a training registers while
a server polls its alias and another command promotes): the file is switched to
WAL, so readers never block the writer, and a write that still meets a lock
("database is locked") is retried with backoff until ``retry_seconds`` pass.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from datamill._deps import require
from datamill.exceptions import ConfigError, ModelError
from datamill.registry._history import AliasEvent, events_from_tags, rollback_target, who
from datamill.registry._refs import ModelRef, parse_ref

__all__ = ["ModelStore", "ModelSummary", "ModelVersion"]


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model.

    ``alias`` is the alias it was resolved by (``None`` otherwise); ``aliases``
    every alias pointing at it now; ``tags`` its tags, lineage under ``datamill.*``.
    """

    name: str
    version: int
    alias: str | None
    run_id: str | None
    model_uri: str
    tags: dict[str, str]
    aliases: tuple[str, ...] = ()
    source: str = ""
    created: datetime | None = None
    description: str | None = None
    _store: Any = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def signature(self) -> Any:
        """The model's MLflow ``ModelSignature`` (read from its ``MLmodel`` file), or ``None``."""
        return None if self._store is None else self._store.signature_at(self.source)

    @property
    def ref(self) -> str:
        """``NAME/VERSION``, the CLI's form."""
        return f"{self.name}/{self.version}"


@dataclass(frozen=True)
class ModelSummary:
    """A registered model: its newest version, how many it has, where its aliases point."""

    name: str
    latest: int | None
    versions: int
    aliases: dict[str, int]
    updated: datetime | None
    description: str | None = None


def _time(ms: Any) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None


def _lost_insert_race(exc: BaseException) -> bool:
    """True for SQLite's unique-constraint failure: another process inserted the same row first."""
    return "unique constraint failed" in str(exc).lower()


def _locked(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database table is locked" in text or "sqlite_busy" in text


def _missing(exc: BaseException) -> bool:
    return getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST" or "not found" in str(exc).lower()


class ModelStore:
    """The model store at ``tracking_uri``: versions, aliases with history, lineage.

    Parameters
    ----------
    tracking_uri
        An MLflow tracking URI (``sqlite:///…``, ``http://…``); its registry is the store.
    retry_seconds
        How long a write keeps retrying while SQLite says the database is locked.
    sleep, clock
        Where retries wait and read the time (tests pass fakes).

    Examples
    --------
    >>> store = ModelStore.for_project(Path("demo"))            # doctest: +SKIP
    >>> mv = store.resolve("churn@champion")                    # doctest: +SKIP
    >>> store.load(mv).predict(frame)                           # doctest: +SKIP
    """

    def __init__(self, tracking_uri: str, *, retry_seconds: float = 120.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.uri = str(tracking_uri)
        self.retry_seconds = retry_seconds
        self._sleep, self._clock = sleep, clock
        self._client: Any = None

    @classmethod
    def for_project(cls, root: Path, tracking_uri: str | None = None, **options: Any) -> ModelStore:
        """The store of the project at ``root``: its SQLite file, unless ``tracking_uri`` names another."""
        if tracking_uri is None:
            from datamill.ml.tracking import project_tracking

            tracking_uri = project_tracking(Path(root))[0]
        return cls(tracking_uri, **options)

    def __repr__(self) -> str:
        return f"ModelStore({self.uri!r})"

    @property
    def tracking_uri(self) -> str:
        """The store's MLflow tracking (and registry) URI: :attr:`uri`."""
        return self.uri

    # -- opening and calling MLflow ---------------------------------------------------------------

    def _db_file(self) -> Path | None:
        return Path(self.uri[len("sqlite:///"):]) if self.uri.startswith("sqlite:///") else None

    def _empty(self) -> bool:
        """A SQLite store not created yet: reads see no models (and create nothing)."""
        path = self._db_file()
        return path is not None and not path.exists()

    @property
    def client(self) -> Any:
        """The ``MlflowClient`` (opened on first use)."""
        if self._client is None:
            from datamill.ml.tracking import prepare_store, quiet_mlflow

            require("mlflow", purpose="the model store")
            quiet_mlflow()
            prepare_store(self.uri)
            from mlflow import MlflowClient

            quiet_mlflow()
            try:
                self._client = self._retry(lambda: MlflowClient(tracking_uri=self.uri, registry_uri=self.uri))
            except Exception as exc:
                raise ModelError(f"model store {self.uri} could not be opened: {type(exc).__name__}: {exc} "
                                 "(fix: check tracking_uri, and that the server or file is reachable)") from exc
        return self._client

    def _retry(self, call: Callable[[], Any]) -> Any:
        """``call()``, again with backoff while SQLite reports a lock, up to ``retry_seconds``.

        A few retries also follow a lost insert race (two writers both found no alias row and
        both inserted one): the failed transaction rolled back, and the retry updates the row.
        """
        deadline = self._clock() + self.retry_seconds
        delay = 0.05
        races = 0
        while True:
            try:
                return call()
            except Exception as exc:
                raced = _lost_insert_race(exc) and races < 5
                races += raced
                if not (_locked(exc) or raced) or self._clock() + delay > deadline:
                    raise
            self._sleep(delay)
            delay = min(delay * 2, 2.0)

    def _call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """A client call, retried on locks; MLflow's errors become a ModelError saying ``what`` failed."""
        client = self.client
        try:
            return self._retry(lambda: getattr(client, method)(*args, **kwargs))
        except Exception as exc:
            if _locked(exc):
                raise ModelError(f"{what}: the model store {self.uri} stayed locked for {self.retry_seconds:.0f} s "
                                 "(fix: retry when the other writer is done)") from exc
            raise ModelError(f"{what}: {type(exc).__name__}: {exc} (store: {self.uri})") from exc

    # -- reading ------------------------------------------------------------------------------------

    def models(self) -> list[ModelSummary]:
        """Every registered model, by name."""
        if self._empty():
            return []
        found = self._call("listing models", "search_registered_models", max_results=1000)
        out = []
        for model in sorted(found, key=lambda m: m.name):
            versions = self._versions_of(model.name)
            out.append(ModelSummary(model.name, max(versions) if versions else None, len(versions),
                                    {a: int(v) for a, v in (model.aliases or {}).items()},
                                    _time(model.last_updated_timestamp), model.description or None))
        return out

    def names(self) -> list[str]:
        """The registered models' names."""
        if self._empty():
            return []
        return sorted(m.name for m in self._call("listing models", "search_registered_models", max_results=1000))

    def _versions_of(self, name: str) -> list[int]:
        found = self._call(f"listing versions of '{name}'", "search_model_versions", f"name = '{_quote(name)}'",
                           max_results=10000)
        return sorted(int(v.version) for v in found)

    def _model(self, name: str) -> Any:
        """MLflow's registered model, or a ModelError naming the models there are."""
        if not self._empty():
            try:
                return self.client.get_registered_model(name)
            except Exception as exc:
                if not _missing(exc):
                    raise ModelError(f"reading model '{name}': {type(exc).__name__}: {exc} (store: {self.uri})") from exc
        from datamill._registry import did_you_mean

        names = self.names()
        listing = f"models: {', '.join(names)}" if names else "no model is registered yet"
        raise ModelError(f"no model '{name}' in the model store {self.uri}{did_you_mean(name, names)}; {listing} "
                         "(fix: `datamill train NAME` registers a version of a models: entry)")

    def _version(self, entity: Any, alias: str | None = None, aliases: list[str] | None = None) -> ModelVersion:
        return ModelVersion(
            name=entity.name, version=int(entity.version), alias=alias, run_id=entity.run_id or None,
            model_uri=f"models:/{entity.name}/{entity.version}", tags=dict(entity.tags or {}),
            aliases=tuple(sorted(entity.aliases or aliases or ())), source=entity.source or "",
            created=_time(entity.creation_timestamp), description=entity.description or None, _store=self,
        )

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of model ``name``, newest first."""
        model = self._model(name)
        found = self._call(f"listing versions of '{name}'", "search_model_versions", f"name = '{_quote(name)}'",
                           max_results=10000)
        by_version: dict[int, list[str]] = {}
        for alias, version in (model.aliases or {}).items():  # searches leave versions' aliases out
            by_version.setdefault(int(version), []).append(alias)
        return sorted((self._version(v, aliases=by_version.get(int(v.version))) for v in found),
                      key=lambda v: -v.version)

    def latest(self, name: str) -> ModelVersion | None:
        """The newest version of ``name``, or ``None`` when it has none (or is not registered)."""
        if self._empty() or name not in self.names():
            return None
        found = self.versions(name)
        return found[0] if found else None

    def latest_tags(self, name: str) -> dict[str, str] | None:
        """The newest version's tags (``None``: no version), read cheaply: ``datamill run`` asks on every run.

        For a SQLite store the tags are read with one query, without importing MLflow
        (seconds); a schema this does not know falls back to MLflow's client.
        """
        path = self._db_file()
        if path is not None:
            if not path.exists():
                return None
            found = _sqlite_latest_tags(path, name)
            if found is not None:
                return found[1] if found[0] else None
        latest = self.latest(name)
        return None if latest is None else dict(latest.tags)

    def resolve(self, ref: str | ModelRef) -> ModelVersion:
        """The version ``ref`` names (``NAME``: the latest); a ModelError lists what exists when it is missing."""
        ref = parse_ref(ref)
        model = self._model(ref.name)
        aliases = {a: int(v) for a, v in (model.aliases or {}).items()}
        if ref.alias is not None:
            if ref.alias not in aliases:
                listing = ", ".join(f"{a} → {v}" for a, v in sorted(aliases.items())) or "none yet"
                raise ModelError(f"model '{ref.name}' has no alias '{ref.alias}'; aliases: {listing} (fix: "
                                 f"datamill models promote {ref.name} VERSION --alias {ref.alias})")
            version = aliases[ref.alias]
        else:
            versions = self._versions_of(ref.name)
            if not versions:
                raise ModelError(f"model '{ref.name}' has no versions (fix: datamill train {ref.name})")
            version = versions[-1] if ref.version is None else ref.version
            if version not in versions:
                raise ModelError(f"model '{ref.name}' has no version {version}; versions: {_ranges(versions)} "
                                 f"(fix: datamill models list; datamill models show {ref.name})")
        entity = self._call(f"reading {ref.name}/{version}", "get_model_version", ref.name, str(version))
        return self._version(entity, alias=ref.alias)

    def training(self, mv: ModelVersion) -> dict[str, dict[str, Any]]:
        """The run behind ``mv``: its ``params`` and ``metrics``, and the winning model's ``model_params``.

        Empty dicts for a version without a run (registered by hand) or whose run is gone.
        """
        out: dict[str, dict[str, Any]] = {"params": {}, "metrics": {}, "model_params": {}}
        if not mv.run_id:
            return out
        try:
            run = self._retry(lambda: self.client.get_run(mv.run_id))
        except Exception:
            return out
        out["params"], out["metrics"] = dict(run.data.params), dict(run.data.metrics)
        best = run.data.tags.get("datamill.best") or mv.tags.get("datamill.best")
        if best:
            query = (f"tags.`mlflow.parentRunId` = '{mv.run_id}' and tags.`datamill.kind` = 'candidate' "
                     f"and tags.`datamill.candidate` = '{_quote(best)}'")
            try:
                found = self._retry(lambda: self.client.search_runs([run.info.experiment_id], query, max_results=50))
            except Exception:
                found = []
            phases = {r.data.tags.get("datamill.phase"): r for r in found}
            chosen = phases.get("tuned") or phases.get("ensemble") or phases.get("defaults")
            if chosen is not None:
                out["model_params"] = dict(chosen.data.params)
        return out

    def history(self, name: str, alias: str | None = None) -> list[AliasEvent]:
        """Every move of model ``name``'s aliases (or of one), oldest first."""
        return events_from_tags(name, dict(self._model(name).tags or {}), alias)

    def download(self, mv: ModelVersion) -> Path:
        """A local folder holding the version's model (its ``MLmodel``, pickle, requirements and code)."""
        from urllib.parse import urlparse

        parsed = urlparse(mv.source)
        if parsed.scheme in ("", "file"):
            from urllib.request import url2pathname

            path = Path(url2pathname(parsed.path) if parsed.scheme else mv.source)
            if path.is_dir():
                return path
        import mlflow.artifacts

        def fetch() -> str:
            # a source written by mlflow.register_model is models:/m-ID, which MLflow looks up in the
            # process-wide tracking and registry URIs, whatever tracking_uri says: point both here meanwhile
            before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
            mlflow.set_tracking_uri(self.uri)
            mlflow.set_registry_uri(self.uri)
            try:
                return mlflow.artifacts.download_artifacts(artifact_uri=mv.source, tracking_uri=self.uri)
            finally:
                mlflow.set_tracking_uri(before[0])
                mlflow.set_registry_uri(before[1])

        try:
            return Path(self._retry(fetch))
        except Exception as exc:
            raise ModelError(f"{mv.ref}: its artifacts at {mv.source} could not be read: {type(exc).__name__}: "
                             f"{exc} (fix: check the artifact store is reachable)") from exc

    def load(self, mv: ModelVersion) -> Any:
        """The fitted scikit-learn pipeline of version ``mv``."""
        import mlflow.sklearn

        from datamill.ml.tracking import quiet_mlflow

        quiet_mlflow()
        path = list(sys.path)
        try:
            return mlflow.sklearn.load_model(str(self.download(mv)))
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"{mv.ref} could not be loaded: {type(exc).__name__}: {exc} (fix: its requirements are "
                             f"in {mv.source}/requirements.txt)") from exc
        finally:
            # MLflow puts the model's code folder (its copy of the datamill modules the pickle needs, for an
            # environment without datamill) first on sys.path; this process has datamill, and a process it
            # spawns would import the partial copy instead: take the folder off again
            sys.path[:] = [p for p in sys.path if p in path]

    def signature_at(self, source: str) -> Any:
        """The ``ModelSignature`` of the model at artifact URI ``source``, or ``None``."""
        from mlflow.models import Model

        probe = ModelVersion("", 0, None, None, "", {}, source=source)
        try:
            return Model.load(str(self.download(probe) / "MLmodel")).signature
        except Exception:  # a version without an MLmodel (registered by hand): no signature
            return None

    # -- writing ------------------------------------------------------------------------------------

    def register(self, name: str, model_uri: str, *, run_id: str | None = None, tags: dict[str, str] | None = None,
                 description: str | None = None) -> ModelVersion:
        """Register the logged model ``model_uri`` (``models:/m-…`` or an artifact URI) as a new version of ``name``."""
        from mlflow.exceptions import MlflowException

        source, model_id = model_uri, None
        if model_uri.startswith("models:/m-"):
            # looked up here: MLflow's own lookup of models:/m-… (and of a missing run id) reads the
            # process's global tracking URI, not this store's
            model_id = model_uri[len("models:/"):]
            logged = self._call(f"reading logged model {model_uri}", "get_logged_model", model_id)
            source, run_id = logged.artifact_location, run_id or logged.source_run_id
        try:
            self._retry(lambda: self.client.create_registered_model(name))
        except MlflowException as exc:
            if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                raise ModelError(f"registering model '{name}': {exc} (store: {self.uri})") from exc
        entity = self._call(f"registering a version of '{name}'", "create_model_version", name, source,
                            run_id=run_id, tags=tags or {}, description=description, model_id=model_id)
        return self._version(entity)

    def artifact_location(self, model_uri: str) -> str:
        """Where a logged model (``models:/m-…``) keeps its files; any other URI is returned as it is."""
        if not model_uri.startswith("models:/m-"):
            return model_uri
        # asked by id here: MLflow's own lookup of models:/m-… reads the process's global tracking URI
        return self._call(f"reading logged model {model_uri}", "get_logged_model",
                          model_uri[len("models:/"):]).artifact_location

    def promote(self, name: str, version: int, alias: str = "champion", *, by: str | None = None,
                reason: str | None = None) -> AliasEvent:
        """Point ``alias`` at ``version`` and record the move (who, when, from which version, why)."""
        model = self._model(name)
        versions = self._versions_of(name)
        if int(version) not in versions:
            raise ModelError(f"model '{name}' has no version {version}; versions: {_ranges(versions) or 'none'} "
                             f"(fix: datamill models show {name})")
        _check_alias(alias)
        before = (model.aliases or {}).get(alias)
        before = None if before is None else int(before)
        event = AliasEvent(name, alias, before, int(version), by or who(), AliasEvent.now(), reason, "promote")
        self._move(event)
        return event

    def rollback(self, name: str, alias: str = "champion", *, by: str | None = None,
                 reason: str | None = None) -> AliasEvent:
        """Point ``alias`` back at the version it pointed at before (from its history); record that too."""
        model = self._model(name)
        aliases = {a: int(v) for a, v in (model.aliases or {}).items()}
        if alias not in aliases:
            listing = ", ".join(f"{a} → {v}" for a, v in sorted(aliases.items())) or "none yet"
            raise ModelError(f"model '{name}' has no alias '{alias}' to roll back; aliases: {listing} "
                             f"(fix: datamill models promote {name} VERSION --alias {alias})")
        current = aliases[alias]
        events = events_from_tags(name, dict(model.tags or {}), alias)
        target = rollback_target(events, current, set(self._versions_of(name)))
        if target is None:
            raise ModelError(f"{name}@{alias} has no earlier version to roll back to (it points at version {current}; "
                             f"its history: {len(events)} moves) (fix: datamill models promote {name} VERSION "
                             f"--alias {alias})")
        event = AliasEvent(name, alias, current, target, by or who(), AliasEvent.now(), reason, "rollback")
        self._move(event)
        return event

    def _move(self, event: AliasEvent) -> None:
        what = f"moving {event.model}@{event.alias} to version {event.to_version}"
        self._call(what, "set_registered_model_alias", event.model, event.alias, str(event.to_version))
        key, value = event.to_tag()
        self._call(what, "set_registered_model_tag", event.model, key, value)


def _sqlite_latest_tags(path: Path, name: str) -> tuple[bool, dict[str, str]] | None:
    """(has a version, the newest version's tags) read from MLflow's tables; ``None`` if they read otherwise."""
    import sqlite3

    try:
        con = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            row = con.execute("SELECT max(version) FROM model_versions WHERE name = ? AND current_stage != "
                              "'Deleted_Internal'", (name,)).fetchone()
            if row is None or row[0] is None:
                return False, {}
            tags = con.execute("SELECT key, value FROM model_version_tags WHERE name = ? AND version = ?",
                               (name, row[0])).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return None
    return True, {str(k): str(v) for k, v in tags}


def _check_alias(alias: str) -> None:
    import re

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", alias or "") or alias.lower() == "latest" or re.fullmatch(
            r"[vV]\d+", alias):
        raise ConfigError(f"alias {alias!r}: use letters, digits, '_' and '-', starting with a letter "
                          "('latest' and v<number> are MLflow's own) (e.g. champion, challenger)")


def _quote(name: str) -> str:
    return name.replace("'", "\\'")


def _ranges(versions: list[int]) -> str:
    """``1-3, 5`` for versions 1, 2, 3 and 5."""
    runs: list[list[int]] = []
    for v in sorted(versions):
        if runs and runs[-1][-1] == v - 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)
