"""Image builders: ``docker`` where an engine answers, else ``podman``, else ``buildah``.

Internal: may change. Each builder turns a build context into a tagged image in
its own image store; :func:`find_builder` picks the first that works here, and
``BUILDERS`` maps a name to its class (lazily, like every backend table).
podman and buildah build with ``--isolation chroot`` (no OCI runtime needed
for ``RUN``, so they build inside unprivileged containers too) and
``--layers=false`` (one commit per image: with the ``vfs`` storage driver each
layer is a full copy of the file system). Their storage driver is the one
configured for the machine (``/etc/containers/storage.conf``,
``CONTAINERS_STORAGE_CONF`` or ``STORAGE_DRIVER``), so the image lands where
``podman run`` looks for it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import deque
from collections.abc import Callable
from pathlib import Path

from datamill._registry import Registry
from datamill.exceptions import ServingError

__all__ = ["BUILDERS", "Builder", "find_builder", "run_logged"]

BUILDERS = Registry("image builder", "datamill.image_builders", {
    "docker": "datamill.serve._builders:DockerBuilder",
    "podman": "datamill.serve._builders:PodmanBuilder",
    "buildah": "datamill.serve._builders:BuildahBuilder",
})
_PREFERENCE = ("docker", "podman", "buildah")
_INSTALL_HINT = ("install Docker (with a running engine), or podman or buildah "
                 "(Debian: apt-get install podman buildah runc)")


class Builder:
    """Builds a context folder (with its ``Dockerfile``) into an image tagged ``tag``."""

    name = ""
    executable = ""

    def available(self) -> bool:
        """Whether this builder can build here now."""
        return shutil.which(self.executable) is not None

    def command(self, context: Path, tag: str) -> list[str]:
        raise NotImplementedError

    def run_hint(self, tag: str) -> str:
        """How to run the image it built, for the user to copy."""
        return f"{self.executable} run --rm -p 8000:8000 {tag}"

    def build(self, context: Path, tag: str, log: Path, on_line: Callable[[str], None] | None = None) -> None:
        """Build ``context`` into ``tag``; the builder's output goes to ``log``.

        A failed build raises :class:`ServingError` with the builder's last lines
        and the kept context's path.
        """
        command = self.command(context, tag)
        code, tail = run_logged(command, log, on_line, env=self.environment())
        if code != 0:
            last = "\n".join(f"  {line}" for line in tail)
            raise ServingError(f"{self.name} could not build image {tag} (exit {code}); its last lines:\n{last}\n"
                               f"the build context is kept in {context} and the whole output in {log} "
                               f"(fix: read the error above; rebuild with: {' '.join(command)})")

    def environment(self) -> dict[str, str] | None:
        return None


class DockerBuilder(Builder):
    """``docker build``, where ``docker info`` reaches an engine."""

    name = executable = "docker"

    def available(self) -> bool:
        if shutil.which("docker") is None:
            return False
        try:  # the client alone is not enough (this machine has one with no engine)
            return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def command(self, context: Path, tag: str) -> list[str]:
        return ["docker", "build", "--tag", tag, "--file", str(context / "Dockerfile"), str(context)]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_BUILDKIT": "1"}  # RUN --mount needs BuildKit (the default since 23.0)


class PodmanBuilder(Builder):
    """``podman build`` (chroot isolation, docker format: OCI images drop HEALTHCHECK)."""

    name = executable = "podman"

    def command(self, context: Path, tag: str) -> list[str]:
        return ["podman", "build", "--format", "docker", "--isolation", "chroot", "--layers=false",
                "--tag", tag, "--file", str(context / "Dockerfile"), str(context)]


class BuildahBuilder(Builder):
    """``buildah build``: builds without a daemon; run the image with podman."""

    name = executable = "buildah"

    def command(self, context: Path, tag: str) -> list[str]:
        return ["buildah", "build", "--format", "docker", "--isolation", "chroot", "--layers=false",
                "--tag", tag, "--file", str(context / "Dockerfile"), str(context)]

    def run_hint(self, tag: str) -> str:
        return f"podman run --rm -p 8000:8000 {tag}"


def find_builder(name: str | None = None) -> Builder:
    """The builder called ``name``, or the first of docker, podman, buildah that works here.

    Raises :class:`ServingError` naming what to install when none does.
    """
    if name is not None:
        builder = BUILDERS.load(name)()
        if not builder.available():
            raise ServingError(f"image builder '{name}' is not usable here: "
                               + (f"'{builder.executable} info' fails (is its engine running?)"
                                  if name == "docker" and shutil.which("docker") else
                                  f"'{builder.executable}' is not on PATH")
                               + f" (fix: {_INSTALL_HINT}, or leave out --builder to use another)")
        return builder
    for candidate in _PREFERENCE:
        builder = BUILDERS.load(candidate)()
        if builder.available():
            return builder
    raise ServingError("no container image builder found: docker has no engine here (or is not installed), "
                       f"and neither podman nor buildah is on PATH (fix: {_INSTALL_HINT}; "
                       "or write the context only with --no-build and build it elsewhere)")


def run_logged(command: list[str], log: Path, on_line: Callable[[str], None] | None = None,
               env: dict[str, str] | None = None, keep: int = 25) -> tuple[int, list[str]]:
    """Run ``command``, its output (both streams) to ``log`` line by line; (exit code, last ``keep`` lines)."""
    tail: deque[str] = deque(maxlen=keep)
    try:
        with open(log, "w", encoding="utf-8") as out, subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                text=True, errors="replace", bufsize=1) as process:
            assert process.stdout is not None
            for line in process.stdout:
                out.write(line)
                out.flush()  # a build takes minutes: the log can be followed meanwhile
                line = line.rstrip()
                if line:
                    tail.append(line)
                    if on_line is not None:
                        on_line(line)
            return process.wait(), list(tail)
    except OSError as exc:
        return 127, [f"{command[0]}: {exc}"]
