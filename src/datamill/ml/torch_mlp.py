"""The ``torch_mlp`` candidate: a PyTorch MLP with embeddings for categoricals, as scikit-learn estimators.

:class:`TorchMLPClassifier` and :class:`TorchMLPRegressor` train on the CPU with
AdamW and stop early on a held-out fraction of the training rows. Categorical
columns (integer codes) get an embedding each, with one extra row for values
not seen in ``fit``; numeric columns are standardised inside the estimator, and
the regressor standardises its target too. A ``random_state`` makes a fit
reproducible bit for bit. PyTorch is an optional extra (``datamill[torch]``),
imported only when a model is fitted or used; :func:`search_space` gives the
Optuna search space for tuning.

Examples
--------
>>> from sklearn.datasets import make_moons
>>> X, y = make_moons(n_samples=400, noise=0.1, random_state=0)
>>> clf = TorchMLPClassifier(hidden=(32, 32), learning_rate=1e-2, random_state=0).fit(X, y)
>>> bool(clf.score(X, y) > 0.95)
True
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from datamill._deps import require

__all__ = ["TorchMLPClassifier", "TorchMLPRegressor", "search_space"]

AUTO_MAX_LEVELS = 20  # categorical_features="auto": integer columns with at most this many distinct values
_PREDICT_CHUNK = 8192


def _torch() -> Any:
    return require("torch", purpose="the torch_mlp candidate")


@contextlib.contextmanager
def _torch_session(torch: Any, n_threads: int, seed: int | None = None) -> Iterator[None]:
    """Deterministic CPU settings and a private RNG for one fit or predict; the caller's come back after."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(n_threads)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[]):  # seeding must not disturb the caller's global RNG
            if seed is not None:
                torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


def _auto_categorical(X: Any) -> list[int]:
    """Integer or boolean columns of a DataFrame with few distinct values; none for an array."""
    if not (hasattr(X, "dtypes") and hasattr(X, "iloc")):
        return []
    return [
        i
        for i, dtype in enumerate(X.dtypes)
        if getattr(dtype, "kind", None) in ("i", "u", "b") and X.iloc[:, i].nunique() <= AUTO_MAX_LEVELS
    ]


def _encode(column: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Level ``levels[k]`` -> ``k + 1``; anything else -> 0, the 'unknown' row of the embedding."""
    pos = np.minimum(np.searchsorted(levels, column), len(levels) - 1)
    return np.where(levels[pos] == column, pos + 1, 0)


def _forward(torch: Any, model: Any, x_num: Any, x_cat: Any) -> Any:
    parts = [x_num] + [emb(x_cat[:, j]) for j, emb in enumerate(model["embeddings"])]
    return model["mlp"](torch.cat(parts, dim=1))


class _TorchMLPBase(BaseEstimator):
    """Shared parameters, validation, preprocessing and the training loop."""

    def __init__(
        self,
        *,
        hidden: tuple[int, ...] = (128, 64),
        dropout: float = 0.1,
        categorical_features: Any = None,
        embedding_dim: int | None = None,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 256,
        max_epochs: int = 200,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        patience: int = 10,
        tol: float = 1e-4,
        random_state: Any = None,
        n_threads: int = 1,
        verbose: bool = False,
    ) -> None:
        self.hidden = hidden
        self.dropout = dropout
        self.categorical_features = categorical_features
        self.embedding_dim = embedding_dim
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.tol = tol
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    # -- validation -------------------------------------------------------------------------------
    def _bad(self, name: str, expected: str) -> ValueError:
        value = getattr(self, name)
        return ValueError(f"{type(self).__name__}: {name}={value!r} is invalid (expected {expected})")

    def _validate_params(self) -> None:
        def is_int(v: Any, low: int) -> bool:
            return isinstance(v, Integral) and not isinstance(v, bool) and v >= low

        def is_real(v: Any) -> bool:
            return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)

        if not (isinstance(self.hidden, (tuple, list)) and all(is_int(h, 1) for h in self.hidden)):
            raise self._bad("hidden", "a tuple of positive layer widths, e.g. (128, 64)")
        if not (is_real(self.dropout) and 0 <= self.dropout < 1):
            raise self._bad("dropout", "a float in [0, 1)")
        if not (self.embedding_dim is None or is_int(self.embedding_dim, 1)):
            raise self._bad("embedding_dim", "None for a size that grows with the levels, or an int >= 1")
        if not (is_real(self.learning_rate) and self.learning_rate > 0):
            raise self._bad("learning_rate", "a float > 0")
        if not (is_real(self.weight_decay) and self.weight_decay >= 0):
            raise self._bad("weight_decay", "a float >= 0")
        for name in ("batch_size", "max_epochs", "patience", "n_threads"):
            if not is_int(getattr(self, name), 1):
                raise self._bad(name, "an int >= 1")
        if not (is_real(self.validation_fraction) and 0 < self.validation_fraction < 1):
            raise self._bad("validation_fraction", "a float in (0, 1)")
        if not (is_real(self.tol) and self.tol >= 0):
            raise self._bad("tol", "a float >= 0")

    def _categorical_indices(self, auto: list[int], n_features: int) -> np.ndarray:
        spec = self.categorical_features
        expected = "'auto', None, column indices or a boolean mask over the columns"
        if spec is None:
            return np.array([], dtype=np.intp)
        if isinstance(spec, str):
            if spec != "auto":
                raise self._bad("categorical_features", expected)
            return np.array(auto, dtype=np.intp)
        arr = np.asarray(spec)
        if arr.size == 0:
            return np.array([], dtype=np.intp)
        if arr.dtype == bool:
            if arr.shape != (n_features,):
                raise self._bad("categorical_features", f"a boolean mask of length {n_features}")
            return np.flatnonzero(arr)
        if arr.ndim != 1 or arr.dtype.kind not in "iu" or arr.min() < -n_features or arr.max() >= n_features:
            raise self._bad("categorical_features", f"{expected}; X has {n_features} columns")
        return np.unique(arr % n_features).astype(np.intp)

    # -- preprocessing ----------------------------------------------------------------------------
    def _fit_preprocessing(self, X: np.ndarray, auto: list[int]) -> None:
        self.categorical_features_ = self._categorical_indices(auto, X.shape[1])
        self.numeric_features_ = np.setdiff1d(np.arange(X.shape[1]), self.categorical_features_)
        self.categories_ = [np.unique(X[:, j]) for j in self.categorical_features_]
        numeric = X[:, self.numeric_features_]
        self.numeric_mean_ = numeric.mean(axis=0)
        scale = numeric.std(axis=0)
        self.numeric_scale_ = np.where(scale > 0, scale, 1.0)

    def _tensors(self, torch: Any, X: np.ndarray) -> tuple[Any, Any]:
        numeric = (X[:, self.numeric_features_] - self.numeric_mean_) / self.numeric_scale_
        codes = np.column_stack(
            [_encode(X[:, j], lv) for j, lv in zip(self.categorical_features_, self.categories_)]
            or [np.empty((len(X), 0), dtype=np.int64)]
        )
        return torch.tensor(numeric, dtype=torch.float32), torch.tensor(codes, dtype=torch.int64)

    # -- training ---------------------------------------------------------------------------------
    def _stratify(self, y: np.ndarray, n_val: int) -> np.ndarray | None:
        return None

    def _fit_model(self, y: np.ndarray, X_arr: np.ndarray, auto: list[int], n_out: int,
                   on_epoch: Callable[[int], None] | None = None) -> None:
        torch = _torch()
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        self._fit_preprocessing(X_arr, auto)
        n = len(X_arr)
        n_val = int(self.validation_fraction * n) if self.early_stopping else 0
        if n_val >= 1 and n - n_val >= 1:
            train_idx, val_idx = train_test_split(
                np.arange(n), test_size=n_val, random_state=seed, stratify=self._stratify(y, n_val)
            )
        else:  # too few rows to hold any out: train on all of them for max_epochs
            train_idx, val_idx = np.arange(n), np.arange(0)

        with _torch_session(torch, self.n_threads, seed):
            x_num, x_cat = self._tensors(torch, X_arr)
            loss_fn, y_t = self._loss_and_target(torch, y)
            cards = [len(lv) + 1 for lv in self.categories_]
            dims = [self.embedding_dim or min(50, round(1.6 * c**0.56)) for c in cards]
            nn = torch.nn
            layers: list[Any] = []
            width = len(self.numeric_features_) + sum(dims)
            for h in self.hidden:
                layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(self.dropout)]
                width = h
            layers.append(nn.Linear(width, n_out))
            # standard modules only, so the fitted estimator pickles without a custom torch class
            embeddings = nn.ModuleList(nn.Embedding(c, d) for c, d in zip(cards, dims))
            model = nn.ModuleDict({"embeddings": embeddings, "mlp": nn.Sequential(*layers)})
            optimizer = torch.optim.AdamW(model.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
            tr, va = torch.as_tensor(train_idx), torch.as_tensor(val_idx)
            self.loss_curve_: list[float] = []
            self.validation_loss_curve_: list[float] = []
            self.best_validation_loss_ = math.inf
            best_state, bad_epochs = None, 0
            for epoch in range(self.max_epochs):
                model.train()
                perm = tr[torch.randperm(len(tr))]
                total = 0.0
                for start in range(0, len(perm), self.batch_size):
                    idx = perm[start : start + self.batch_size]
                    optimizer.zero_grad()
                    loss = loss_fn(_forward(torch, model, x_num[idx], x_cat[idx]), y_t[idx])
                    loss.backward()
                    optimizer.step()
                    total += loss.item() * len(idx)
                self.loss_curve_.append(total / len(perm))
                self.n_iter_ = epoch + 1
                if len(va):
                    model.eval()
                    with torch.no_grad():
                        val_loss = loss_fn(_forward(torch, model, x_num[va], x_cat[va]), y_t[va]).item()
                    self.validation_loss_curve_.append(val_loss)
                    if val_loss < self.best_validation_loss_ - self.tol:
                        self.best_validation_loss_, bad_epochs = val_loss, 0
                        best_state = copy.deepcopy(model.state_dict())
                    else:
                        bad_epochs += 1
                if self.verbose:
                    print(f"epoch {epoch + 1}: losses {self.loss_curve_[-1:] + self.validation_loss_curve_[-1:]}")
                if len(va) and bad_epochs >= self.patience:
                    break
                if on_epoch is not None:  # e.g. a time budget's check, which raises to stop
                    on_epoch(epoch + 1)
            if best_state is not None:  # keep the weights of the best validation epoch
                model.load_state_dict(best_state)
            model.eval()
        self.model_ = model

    def _raw_predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        torch = _torch()
        out = []
        with _torch_session(torch, self.n_threads), torch.no_grad():
            self.model_.eval()
            for start in range(0, len(X), _PREDICT_CHUNK):
                x_num, x_cat = self._tensors(torch, X[start : start + _PREDICT_CHUNK])
                out.append(_forward(torch, self.model_, x_num, x_cat).double().numpy())
        return np.concatenate(out)

    def _fit_validate(self, X: Any, y: Any, **kwargs: Any) -> tuple[np.ndarray, np.ndarray, list[int]]:
        self._validate_params()
        auto = _auto_categorical(X) if isinstance(self.categorical_features, str) else []
        return (*validate_data(self, X, y, dtype=np.float64, **kwargs), auto)


class TorchMLPClassifier(ClassifierMixin, _TorchMLPBase):
    """MLP classifier (binary or multiclass) with embeddings for categorical columns.

    Parameters
    ----------
    hidden
        Widths of the hidden layers, each a linear layer, ReLU and dropout.
    dropout
        Dropout probability after each hidden layer.
    categorical_features
        Columns to embed: indices, a boolean mask, ``None``, or ``"auto"`` (for a
        DataFrame, integer or boolean columns with at most ``AUTO_MAX_LEVELS``
        distinct values; for an array, none). Values are codes; one not seen in
        ``fit`` maps to a shared 'unknown' embedding.
    embedding_dim
        Size of every embedding; ``None`` grows it with the number of levels (at most 50).
    learning_rate, weight_decay
        AdamW settings.
    batch_size, max_epochs
        Mini-batch size and the most passes over the training rows.
    early_stopping, validation_fraction, patience, tol
        Hold out ``validation_fraction`` of the rows (stratified when possible) and stop
        after ``patience`` epochs without the validation loss improving by ``tol``;
        the weights of the best epoch are kept.
    random_state
        Seed for the split, the initial weights, the shuffling and dropout.
    n_threads
        CPU threads torch may use; a fixed number keeps results reproducible.
    verbose
        Print the losses of each epoch.

    Attributes
    ----------
    classes_, n_features_in_, categorical_features_, categories_, model_, n_iter_, loss_curve_,
    validation_loss_curve_, best_validation_loss_
    """

    def fit(self, X: Any, y: Any, *, on_epoch: Callable[[int], None] | None = None) -> TorchMLPClassifier:  # noqa: N803
        """Train; ``on_epoch(n)`` is called after each epoch (raise in it to stop the fit)."""
        X_arr, y_arr, auto = self._fit_validate(X, y)
        check_classification_targets(y_arr)
        self.classes_, y_codes = np.unique(y_arr, return_inverse=True)
        if len(self.classes_) < 2:
            only = self.classes_.tolist()[0]
            raise ValueError(f"TorchMLPClassifier: y has one class only ({only!r}); it needs at least 2 classes")
        self._fit_model(y_codes, X_arr, auto, len(self.classes_), on_epoch)
        return self

    def _stratify(self, y: np.ndarray, n_val: int) -> np.ndarray | None:
        counts = np.bincount(y)
        ok = counts.min() >= 2 and min(n_val, len(y) - n_val) >= len(counts)
        return y if ok else None

    def _loss_and_target(self, torch: Any, y: np.ndarray) -> tuple[Any, Any]:
        return torch.nn.CrossEntropyLoss(), torch.tensor(y, dtype=torch.int64)

    def predict_proba(self, X: Any) -> np.ndarray:  # noqa: N803
        """Probability of each class in ``classes_`` order, one row per sample."""
        logits = self._raw_predict(X)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        """The most probable class of each sample."""
        logits = self._raw_predict(X)  # first, so an unfitted estimator raises NotFittedError
        return self.classes_[np.argmax(logits, axis=1)]


class TorchMLPRegressor(RegressorMixin, _TorchMLPBase):
    """MLP regressor with embeddings for categorical columns; the target is standardised inside.

    Parameters are those of :class:`TorchMLPClassifier`; the early-stopping split is not stratified.

    Attributes
    ----------
    n_features_in_, categorical_features_, categories_, model_, y_mean_, y_scale_, n_iter_,
    loss_curve_, validation_loss_curve_, best_validation_loss_
    """

    def fit(self, X: Any, y: Any, *, on_epoch: Callable[[int], None] | None = None) -> TorchMLPRegressor:  # noqa: N803
        """Train; ``on_epoch(n)`` is called after each epoch (raise in it to stop the fit)."""
        X_arr, y_arr, auto = self._fit_validate(X, y, y_numeric=True)
        self.y_mean_ = float(y_arr.mean())
        scale = float(y_arr.std())
        self.y_scale_ = scale if scale > 0 else 1.0
        self._fit_model((y_arr - self.y_mean_) / self.y_scale_, X_arr, auto, 1, on_epoch)
        return self

    def _loss_and_target(self, torch: Any, y: np.ndarray) -> tuple[Any, Any]:
        return torch.nn.MSELoss(), torch.tensor(y, dtype=torch.float32).reshape(-1, 1)

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        """Predicted target of each sample, in the units of ``y``."""
        out = self._raw_predict(X)[:, 0]
        return out * self.y_scale_ + self.y_mean_


def search_space(trial: Any) -> dict[str, Any]:
    """Constructor parameters for one Optuna trial of ``torch_mlp`` (both estimators).

    Examples
    --------
    >>> import optuna                                                      # doctest: +SKIP
    >>> fixed = {"n_layers": 2, "width": 64, "dropout": 0.1, "learning_rate": 1e-3,
    ...          "weight_decay": 1e-4, "batch_size": 128, "embedding_dim": None}
    >>> search_space(optuna.trial.FixedTrial(fixed))["hidden"]             # doctest: +SKIP
    (64, 32)
    """
    n_layers = trial.suggest_int("n_layers", 1, 3)
    width = trial.suggest_int("width", 32, 256, log=True)
    return {
        "hidden": tuple(max(8, width >> i) for i in range(n_layers)),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256, 512]),
        "embedding_dim": trial.suggest_categorical("embedding_dim", [None, 4, 8, 16]),
    }
