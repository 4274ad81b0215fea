"""Monitoring: drift of features and predictions, live performance, reports and alerts.

internal: the public names of this stage are gathered here as its modules land.
"""

from __future__ import annotations

from datamill.monitor.result import DriftResult, FeatureDrift

__all__ = ["DriftResult", "FeatureDrift"]
