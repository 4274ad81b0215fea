"""Serving: the model server and the prediction log it writes."""

from datamill.serve.predlog import PREDICTION_SCHEMA, PredictionLog, read_predictions

__all__ = ["PREDICTION_SCHEMA", "PredictionLog", "read_predictions"]
