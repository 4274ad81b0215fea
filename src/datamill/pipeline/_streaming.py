"""Kafka sources and the streaming datasets on them, as ``datamill run`` sees them: shown, never run.

``datamill stream NAME`` runs a streaming dataset; a batch run only says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datamill.pipeline.nodes import Node
from datamill.pipeline.records import NodeRun

if TYPE_CHECKING:
    from datamill.pipeline.runner import RunContext

__all__ = ["StreamingNode"]


@dataclass
class StreamingNode(Node):
    """A kafka source (``reads`` empty) or a streaming dataset on one; skipped by the batch pipeline."""

    reads: list[str] = field(default_factory=list)
    hint: str = ""
    kind = "stream"

    def deps(self) -> list[str]:
        return list(self.reads)

    def fingerprint(self, ctx: RunContext) -> str | None:
        return None

    def is_current(self, ctx: RunContext, previous: dict[str, Any], fingerprint: str | None) -> bool:
        return False

    def execute(self, ctx: RunContext, record: NodeRun) -> None:
        record.status = "skipped"
        record.summary = self.hint
