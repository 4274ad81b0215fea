"""The pipeline: a DAG of sources and datasets, run in order with records of every run."""

from datamill.pipeline.dag import Dag, select
from datamill.pipeline.progress import Progress
from datamill.pipeline.records import NodeRun, RunRecord, RunStore
from datamill.pipeline.runner import build_dag, build_nodes, run_pipeline

__all__ = ["Dag", "NodeRun", "Progress", "RunRecord", "RunStore", "build_dag", "build_nodes", "run_pipeline", "select"]
