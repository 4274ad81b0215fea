"""Serving: the model server and the prediction log it writes."""

from datamill.serve.predlog import PREDICTION_SCHEMA, PredictionLog, default_spill_dir, read_predictions

__all__ = ["PREDICTION_SCHEMA", "PredictionLog", "default_spill_dir", "read_predictions"]
