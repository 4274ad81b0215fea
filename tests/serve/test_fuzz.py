"""Schemathesis fuzzes the server's OpenAPI document: whatever it sends, no 5xx, and answers fit the schema.

The document's own checks run too (documented status codes, response schemas);
two of schemathesis's checks cannot hold and are left out: a columns body
whose lists differ in length is valid JSON Schema yet refused (equal lengths
cannot be written in JSON Schema), and too many records is a 413 (the HTTP code
for a request too large), where schemathesis expects a 400 or 422.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.serve.conftest import Server, Store, running

CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance"


def _fuzz(url: str, examples: int = 100) -> subprocess.CompletedProcess:
    st = Path(sys.executable).parent / "schemathesis"
    return subprocess.run([str(st), "run", f"{url}/openapi.json", "--checks", CHECKS, "-n", str(examples),
                           "--seed", "7", "--generation-database", "none"],
                          capture_output=True, text=True, timeout=600)


def test_fuzzing_the_scikit_learn_server_finds_no_5xx(server: Server) -> None:
    out = _fuzz(server.url)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-3000:]
    assert "No issues found" in out.stdout
    assert "ERROR datamill.serve" not in server.output()  # no request failed inside the server either


@pytest.mark.parametrize("onnx", ["on"])
def test_fuzzing_the_onnx_server_finds_no_5xx(store: Store, onnx: str) -> None:
    with running(store.root, "numeric@champion", "--onnx", onnx, "--reload-interval", "0") as server:
        out = _fuzz(server.url)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-3000:]
