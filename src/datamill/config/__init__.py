"""The project file: typed schema and a loader with line-numbered errors."""

from datamill.config.loader import PROJECT_FILE, find_project_file, load_config
from datamill.config.schema import BackendSpec, DatasetSpec, ProjectConfig, SourceSpec, WriteSpec, quarantine_table_name

__all__ = [
    "PROJECT_FILE",
    "BackendSpec",
    "DatasetSpec",
    "ProjectConfig",
    "SourceSpec",
    "WriteSpec",
    "find_project_file",
    "load_config",
    "quarantine_table_name",
]
