"""The project file: typed parsing, ${VAR} substitution, errors that point at lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamill.config import load_config
from datamill.exceptions import ConfigError


def write(folder: Path, text: str) -> Path:
    (folder / "datamill.yaml").write_text(text, encoding="utf-8")
    return folder


GOOD = """\
name: churn
engine: duckdb
storage: lakehouse:./wh
sources:
  customers: {type: csv, path: data/c.csv, on_bad_rows: quarantine}
  crm: {type: sql, url: "${CRM_URL}", query: "select 1"}
datasets:
  clean:
    from: customers
  joined:
    sql: select * from clean
    write: {mode: upsert, keys: [id]}
"""


def test_parses_into_typed_objects(tmp_path: Path) -> None:
    config, file = load_config(write(tmp_path, GOOD), env={"CRM_URL": "postgresql://u:pw@h/db"})
    assert file == tmp_path / "datamill.yaml"
    assert config.engine.type == "duckdb"
    assert config.storage.type == "lakehouse" and config.storage.options == {"path": "./wh"}
    assert config.sources["customers"].on_bad_rows == "quarantine"
    assert config.sources["crm"].options["url"] == "postgresql://u:pw@h/db"
    assert config.datasets["clean"].from_ == "customers"
    assert config.datasets["joined"].write.mode == "upsert"
    assert config.datasets["joined"].write.keys == ["id"]


@pytest.mark.parametrize(
    ("storage", "kind", "options"),
    [
        ("postgresql://u@h:5432/db", "postgres", {"url": "postgresql://u@h:5432/db"}),
        ("duckdb:./w.duckdb", "duckdb", {"path": "./w.duckdb"}),
        ("{type: lakehouse, path: /data/wh}", "lakehouse", {"path": "/data/wh"}),
    ],
)
def test_storage_shorthands(tmp_path: Path, storage: str, kind: str, options: dict) -> None:
    config, _ = load_config(write(tmp_path, f"name: p\nstorage: {storage}\n"), env={})
    assert config.storage.type == kind
    assert config.storage.options == options


def test_missing_env_var_names_line_and_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, GOOD), env={})
    message = str(err.value)
    assert "line 6" in message and "CRM_URL is not set" in message and "export CRM_URL" in message


def test_env_default(tmp_path: Path) -> None:
    text = GOOD.replace("${CRM_URL}", "${CRM_URL:-postgresql://localhost/crm}")
    config, _ = load_config(write(tmp_path, text), env={})
    assert config.sources["crm"].options["url"] == "postgresql://localhost/crm"


def test_typo_in_key_suggests_the_right_one(tmp_path: Path) -> None:
    text = "name: p\nsources:\n  c:\n    type: csv\n    path: a.csv\ndatsets: {}\n"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    message = str(err.value)
    assert "line 6" in message
    assert "unknown key 'datsets'" in message and "did you mean 'datasets'" in message


def test_typo_in_source_option_suggests(tmp_path: Path) -> None:
    text = "name: p\nsources:\n  c:\n    type: csv\n    pth: a.csv\n"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    message = str(err.value)
    assert "line 5" in message and "sources.c.pth" in message and "did you mean 'path'" in message


def test_unknown_source_type_lists_known(tmp_path: Path) -> None:
    text = "name: p\nsources:\n  c:\n    type: cvs\n    path: a.csv\n"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    message = str(err.value)
    assert "line 4" in message
    assert "unknown source type 'cvs'" in message and "did you mean 'csv'" in message
    assert "known: csv, http, json, kafka, ndjson, parquet, sql" in message


def test_broken_yaml_names_line(tmp_path: Path) -> None:
    text = "name: p\nsources:\n  c:\n    type: csv\n   path: a.csv\n"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    assert "broken YAML" in str(err.value) and "line 5" in str(err.value)


def test_dataset_needs_exactly_one_body(tmp_path: Path) -> None:
    text = "name: p\ndatasets:\n  d:\n    sql: select 1\n    from: x\n"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    assert "line 3" in str(err.value) and "exactly one of from:, sql: or python:" in str(err.value)


def test_upsert_without_keys(tmp_path: Path) -> None:
    text = "name: p\ndatasets:\n  d:\n    sql: select 1 as x\n    write: {mode: upsert}\n"
    with pytest.raises(ConfigError, match="upsert needs keys"):
        load_config(write(tmp_path, text), env={})


def test_missing_project_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="datamill init"):
        load_config(tmp_path, env={})


def test_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(write(tmp_path, "- just\n- a list\n"), env={})


def test_same_name_source_and_dataset(tmp_path: Path) -> None:
    text = "name: p\nsources:\n  a: {type: csv, path: a.csv}\ndatasets:\n  a: {sql: select 1}\n"
    with pytest.raises(ConfigError, match="both as a source and a dataset"):
        load_config(write(tmp_path, text), env={})


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    text = "name: p\nsources:\n  t: {type: csv, path: a.csv}\n  t: {type: csv, path: b.csv}\n"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    assert "line 4" in str(err.value) and "'t' is given twice (first at line 3)" in str(err.value)


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is empty"):
        load_config(write(tmp_path, ""), env={})


def test_base_source_keys_are_suggested(tmp_path: Path) -> None:
    text = "name: p\nsources:\n  t: {type: csv, path: a.csv, on_bad_row: skip}\n"
    with pytest.raises(ConfigError, match="did you mean 'on_bad_rows'"):
        load_config(write(tmp_path, text), env={})


def test_readable_messages_for_bad_values(tmp_path: Path) -> None:
    text = "name: my-p\nsources:\n  t: {type: csv, path: a.csv, on_bad_rows: maybe}\n"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    assert "'my-p' is not a valid name" in str(err.value)
    assert "'maybe' is not allowed: 'fail', 'quarantine' or 'skip'" in str(err.value)


def test_stage_blocks_are_validated_by_the_stages_models(tmp_path: Path) -> None:
    # clean:, checks: and models: belong to quality and ml; config loads their models
    # only to validate, and a typo inside them still points at its line with the keys allowed
    text = ("name: p\ndatasets:\n  d:\n    from: s\n    clean: {dedupe: true, impute: {x: median}}\n"
            "    checks: [{not_null: x}]\nmodels:\n  m:\n    from: d\n    targt: y\n")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    message = str(err.value)
    assert "line 10, models.m.targt: unknown key 'targt' (did you mean 'target'?)" in message
    config, _ = load_config(write(tmp_path, text.replace("targt", "target")), env={})
    assert [s.key for s in config.datasets["d"].clean.steps()] == ["dedupe", "impute"]
    assert config.datasets["d"].checks[0].build().kind == "not_null"
    assert config.models["m"].target == "y" and config.models["m"].tune.timeout == 120.0
