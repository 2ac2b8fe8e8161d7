"""Run ``rebalance`` without root's power over file permissions, even when the tests run
as root (as they do in CI), so that permission errors are real ones.

Three ways, the first that works on this machine:
1. the tests do not run as root: the command runs as it is;
2. uid and gid 65534 (``nobody``), by ``subprocess``'s ``user=``/``group=``, when that
   user can run this Python and import the package (it cannot when the interpreter
   lives in a folder only root may enter, such as a pyenv under /root);
3. root without the capabilities that bypass file permissions (CAP_DAC_OVERRIDE,
   CAP_DAC_READ_SEARCH, CAP_FOWNER), dropped from the bounding set before ``exec``:
   the process is then held to the owner bits of root's files like any user to its
   own, and to the sticky bit for files of other owners.
Otherwise the tests that need it are skipped, saying why.
"""

from __future__ import annotations

import ctypes
import functools
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO, Result, argv

NOBODY = 65534
PR_CAPBSET_DROP = 24
# CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER (linux/capability.h)
FILE_CAPABILITIES = (1, 2, 3)


def _drop_file_capabilities() -> None:  # runs in the child, before exec
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in FILE_CAPABILITIES:
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


@dataclass(frozen=True)
class Unprivileged:
    """How commands run: ``how`` says it; ``uid`` is the command's uid when it is not
    the tests' own (then :meth:`own` gives it the folders it must write)."""

    how: str
    kwargs: dict[str, object]
    uid: int | None

    def own(self, path: Path) -> Path:
        """Make ``path`` (a folder or file made by the tests) the command's own."""
        if self.uid is not None:
            os.chown(path, self.uid, self.uid)
        return path

    def run(self, *args: object, env: dict[str, str], stdin: bytes | None = None) -> Result:
        proc = subprocess.run(
            argv(*args),
            input=stdin,
            capture_output=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **env},
            cwd=env.get("HOME"),
            timeout=300,
            **self.kwargs,  # type: ignore[arg-type]
        )
        return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def _probe(kwargs: dict[str, object]) -> str | None:
    """None when a command can run this way and is held to file permissions."""
    folder = Path(tempfile.mkdtemp(prefix="rebalance-probe-"))
    try:
        folder.chmod(0o755)
        locked = folder / "locked"
        locked.write_text("x")
        locked.chmod(0)
        code = (
            "import sys, rebalance_cli.cli\n"
            "try:\n"
            f"    open({str(locked)!r}).read()\n"
            "except PermissionError:\n"
            "    sys.exit(0)\n"
            "sys.exit(3)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            cwd=folder,
            env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"},
            timeout=120,
            **kwargs,  # type: ignore[arg-type]
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    finally:
        locked.chmod(0o600)
        locked.unlink()
        folder.rmdir()
    if proc.returncode == 3:
        return "the command could still read a file of mode 000"
    if proc.returncode != 0:
        return proc.stderr.decode().strip().splitlines()[-1] if proc.stderr else "failed"
    return None


@functools.cache
def unprivileged() -> Unprivileged | str:
    """The way to run commands unprivileged here, or why there is none."""
    if os.geteuid() != 0:
        return Unprivileged(f"as uid {os.geteuid()} (not root)", {}, None)
    nobody = {"user": NOBODY, "group": NOBODY, "extra_groups": []}
    why_nobody = _probe(nobody)
    if why_nobody is None:
        return Unprivileged(f"as uid {NOBODY} (nobody)", nobody, NOBODY)
    caps: dict[str, Callable[[], None] | object] = {"preexec_fn": _drop_file_capabilities}
    why_caps = _probe(caps)
    if why_caps is None:
        return Unprivileged(
            "as root without CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER "
            f"(uid {NOBODY} cannot run this Python: {why_nobody})",
            caps,
            None,
        )
    return f"cannot drop privileges: uid {NOBODY}: {why_nobody}; capabilities: {why_caps}"


def shared_folder(prefix: str) -> Path:
    """A new folder every user may enter (pytest's tmp_path is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


def require() -> Unprivileged:
    """The unprivileged runner, or a skip that says why there is none."""
    import pytest

    found = unprivileged()
    if isinstance(found, str):
        pytest.skip(found)
    return found
