"""Monitoring: drift, live performance, and the continuous-training loop (retrain, gate, promote or refuse).

The loop's pieces, lowest first: :mod:`~datamill.monitor.config` (the
``monitors:`` block), :mod:`~datamill.monitor.gate` (scoring on the holdout and
the gate), :mod:`~datamill.monitor.audit` (the ``monitor_audit`` table),
:mod:`~datamill.monitor.retrain` (one retrain, judged and recorded) and
:mod:`~datamill.monitor.policy` (which signals trigger it). Nothing heavy is
imported here.
"""

from __future__ import annotations

__all__: list[str] = []
