"""Analytics: query the project's tables and export the results."""

from datamill.analytics.export import FORMATS, export, format_for, write_table

__all__ = ["FORMATS", "export", "format_for", "write_table"]
