"""Containers for the tests: podman with its own storage, and a base image made with debootstrap.

No registry can be reached from the test machines, so the base image is built
locally: ``debootstrap --variant=minbase bookworm`` plus Debian's ``python3``
(3.11, the Python the wheels are collected for), imported into podman as
``localhost/datamill-base:test``. The root file system is cached as a tarball
under ``~/.cache/datamill/containers`` and the image stays in the tests' own
podman storage there, so only the first run on a machine pays for debootstrap
(about a minute here).

The tests' podman uses the ``vfs`` storage driver and ``chroot`` isolation (they
work wherever podman does, overlay or not) through ``CONTAINERS_STORAGE_CONF``,
and runs containers with ``--cgroup-manager cgroupfs --runtime /usr/sbin/runc``
and explicit ulimits (runc may not raise the sandbox's limits). Building the
root file system and running podman rootful need root: CI runs the tests as root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

BASE_IMAGE = "localhost/datamill-base:test"
TOOLS = ("podman", "buildah", "debootstrap")
RUNC = "/usr/sbin/runc"
RUN_OPTIONS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
_MIRROR = os.environ.get("DATAMILL_DEBIAN_MIRROR", "http://deb.debian.org/debian")


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "datamill" / "containers"


def unavailable() -> str | None:
    """Why the container tests cannot run here, or None when they can."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None] + ([] if Path(RUNC).exists() else [RUNC])
    if missing:
        return f"{', '.join(missing)} not installed (./scripts/test installs them)"
    if os.geteuid() != 0:
        return "debootstrap and rootful podman need root (CI runs the tests as root)"
    return None


def environment() -> dict[str, str]:
    """The environment for podman and ``datamill package``: the tests' own vfs storage."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    conf = root / "storage.conf"
    text = (f'[storage]\ndriver = "vfs"\ngraphroot = "{root / "storage"}"\nrunroot = "{root / "run"}"\n')
    if not conf.exists() or conf.read_text() != text:
        conf.write_text(text)
    return {**os.environ, "CONTAINERS_STORAGE_CONF": str(conf)}


def podman(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    """``podman ARGS`` on the tests' storage, with the runtime this sandbox needs."""
    command = ["podman", "--cgroup-manager", "cgroupfs", "--runtime", RUNC, *args]
    out = subprocess.run(command, capture_output=True, text=True, env=environment(), timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out


def base_image() -> str:
    """``localhost/datamill-base:test``, made once per machine (debootstrap, then cached)."""
    if podman("image", "exists", BASE_IMAGE, check=False).returncode == 0:
        return BASE_IMAGE
    tarball = cache_dir() / "bookworm-python3.tar"
    if not tarball.exists():
        _debootstrap(tarball)
    with open(tarball, "rb") as data:
        out = subprocess.run(["podman", "import", "--change", "CMD [\"python3\"]", "-", BASE_IMAGE], stdin=data,
                             capture_output=True, text=True, env=environment(), timeout=600)
    if out.returncode != 0:
        raise AssertionError(f"podman import failed: {out.stderr[-2000:]}")
    return BASE_IMAGE


def _debootstrap(tarball: Path) -> None:
    rootfs = tarball.with_suffix(".rootfs")
    shutil.rmtree(rootfs, ignore_errors=True)
    started = time.monotonic()
    out = subprocess.run(["debootstrap", "--variant=minbase", "--include=python3,python3-venv", "bookworm",
                          str(rootfs), _MIRROR], capture_output=True, text=True, timeout=1200)
    if out.returncode != 0:
        raise AssertionError(f"debootstrap failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):  # what the image does not need
        for path in (rootfs / junk).glob("*"):
            if path.is_file():
                path.unlink()
    tmp = tarball.with_suffix(".tmp")
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tmp), "."], check=True, timeout=600)
    os.replace(tmp, tarball)
    shutil.rmtree(rootfs, ignore_errors=True)
    print(f"debootstrap made the base image's root file system in {time.monotonic() - started:.0f} s")
