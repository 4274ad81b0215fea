"""Cron expressions in the project file (``schedule:`` jobs, ``monitors.NAME.schedule``).

Five fields (minute hour day month weekday), as cron reads them, or six with
seconds last (``*/10 * * * * *``: every ten seconds; for demos and tests).
They are read by ``croniter`` (the ``monitor`` extra), in the machine's local time.

Examples
--------
>>> check_cron("*/5 * * * *")
'*/5 * * * *'
>>> check_cron("every five minutes")
Traceback (most recent call last):
...
ValueError: 'every five minutes' is not a cron expression: write five fields, minute hour day month weekday (e.g. '*/5 * * * *': every 5 minutes; '0 2 * * *': at 02:00), or six with seconds last
"""

from __future__ import annotations

__all__ = ["check_cron"]


def check_cron(expression: str) -> str:
    """``expression`` stripped, or a ``ValueError`` (a ConfigError in the loader) that shows the form."""
    from datamill._deps import require

    text = str(expression).strip()
    croniter = require("croniter", purpose="cron expressions (schedule:)").croniter
    if len(text.split()) not in (5, 6) or not croniter.is_valid(text):
        raise ValueError(f"{text!r} is not a cron expression: write five fields, minute hour day month weekday "
                         "(e.g. '*/5 * * * *': every 5 minutes; '0 2 * * *': at 02:00), or six with seconds last")
    return text
