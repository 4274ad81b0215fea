"""The model store: MLflow's registry, with versions, aliases and their history, and lineage.

A model is addressed as ``NAME`` (its latest version), ``NAME@ALIAS`` or
``NAME/VERSION``, MLflow's ``models:/NAME@ALIAS`` and ``models:/NAME/VERSION``.
Every training of a project's ``models:`` entry registers a version tagged
with its lineage (``datamill.*``: table, storage version, rows, run, metric,
scores, signature, project file digest, code version). Moving an alias records
who moved it, when, from which version to which and why, in the registry itself.

Importing this package is cheap: MLflow loads when a store is first used.

Examples
--------
>>> from datamill.registry import ModelStore, parse_ref
>>> parse_ref("churn@champion").uri
'models:/churn@champion'
>>> store = ModelStore.for_project(root)                 # doctest: +SKIP
>>> mv = store.resolve("churn@champion")                 # doctest: +SKIP
>>> store.promote("churn", 4, "champion", reason="better AUC")   # doctest: +SKIP
"""

from __future__ import annotations

from datamill.registry._history import AliasEvent
from datamill.registry._refs import ModelRef, parse_ref
from datamill.registry.store import ModelStore, ModelSummary, ModelVersion
from datamill.registry.training import FINGERPRINT_TAG, train_and_register

__all__ = ["FINGERPRINT_TAG", "AliasEvent", "ModelRef", "ModelStore", "ModelSummary", "ModelVersion", "parse_ref",
           "train_and_register"]
