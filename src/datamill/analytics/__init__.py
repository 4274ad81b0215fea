"""Analytics: query the project's tables and export the results."""

from datamill.analytics.export import FORMATS, write_table

__all__ = ["FORMATS", "write_table"]
