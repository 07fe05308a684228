"""The locks: every install path installs exactly these pins (README, "Dependencies")."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", re.MULTILINE)
CHECK = ROOT / "scripts" / "lock_check.py"


def pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text(encoding="utf-8")
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def wanted() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(line) for line in
            project["dependencies"] + project["optional-dependencies"]["dev"]]


def test_it_pins_every_dependency_within_pyprojects_range() -> None:
    locked = pins("requirements-dev.lock")
    for req in wanted():
        name = canonicalize_name(req.name)
        if name == "torch":  # installed first, pinned by setup.sh and the Dockerfiles
            assert str(req.specifier) == "==2.13.0"
            continue
        assert name in locked, f"{req} is not in requirements-dev.lock"
        assert req.specifier.contains(Version(locked[name]), prereleases=True), (
            f"{name}=={locked[name]} is outside pyproject.toml's {req}")


def test_it_gives_every_pin_a_hash() -> None:
    for lock in ("requirements.lock", "requirements-dev.lock"):
        text = (ROOT / lock).read_text(encoding="utf-8")
        blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n\n", 1)[-1])
        for block in blocks:
            if PIN.match(block):
                assert "--hash=sha256:" in block, f"{lock}: no hash for {block.split()[0]}"


def test_it_runs_the_studio_on_the_dev_locks_versions() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert runtime, "requirements.lock pins nothing"
    assert {name: dev.get(name) for name in runtime} == runtime
    for name in ("django", "transformers", "peft", "trl", "accelerate", "celery"):
        assert name in runtime


def test_it_pins_no_cuda_wheels_and_not_torch() -> None:
    # torch's build depends on the machine (README, "GPU"): it is installed before the lock.
    for lock in ("requirements.lock", "requirements-dev.lock"):
        names = pins(lock)
        assert "torch" not in names
        assert not [n for n in names if n.startswith(("nvidia-", "cuda-")) or n == "triton"]


def test_it_runs_on_exactly_the_locked_versions() -> None:
    """setup.sh installed this environment: what is installed is what the lock says
    (make upgrade-check points STUDIO_LOCK at its scratch lock)."""
    wrong = {}
    for name, version in pins(os.environ.get("STUDIO_LOCK", "requirements-dev.lock")).items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = "missing"
        if installed == "missing" or Version(installed) != Version(version):
            wrong[name] = (version, installed)
    assert wrong == {}, "installed versions differ from requirements-dev.lock (run scripts/setup.sh)"


def _copy_project(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(CHECK, tmp_path / "scripts" / CHECK.name)
    for name in ("pyproject.toml", "requirements.lock", "requirements-dev.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(root / "scripts" / CHECK.name)],
                          capture_output=True, text=True, check=False)


def test_it_accepts_the_committed_locks() -> None:
    result = _check(ROOT)
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("change", [
    ('"pytest>=8",', '"pytest>=8",\n    "rich>=13",'),              # a dependency added
    ('"peft>=0.17,<0.22",', '"peft>=0.17,<0.23",'),                 # a bound raised
])
def test_it_refuses_a_lock_made_from_another_pyproject(tmp_path: Path,
                                                        change: tuple[str, str]) -> None:
    root = _copy_project(tmp_path)
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    assert change[0] in text
    pyproject.write_text(text.replace(change[0], change[1]), encoding="utf-8")
    result = _check(root)
    assert result.returncode == 1
    assert "requirements.lock is out of date" in result.stderr
    assert "make lock" in result.stderr


def test_it_ignores_comments_and_layout_of_pyproject(tmp_path: Path) -> None:
    root = _copy_project(tmp_path)
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace("    # Web\n", "    # The web site\n\n"), encoding="utf-8")
    assert _check(root).returncode == 0


def test_it_names_a_missing_lock_and_the_fix(tmp_path: Path) -> None:
    root = _copy_project(tmp_path)
    (root / "requirements.lock").unlink()
    result = _check(root)
    assert result.returncode == 1
    assert "requirements.lock is missing. Run `make lock`" in result.stderr


def test_it_refuses_a_lock_not_made_by_make_lock(tmp_path: Path) -> None:
    root = _copy_project(tmp_path)
    lock = root / "requirements-dev.lock"
    lock.write_text(lock.read_text(encoding="utf-8").split("\n", 1)[1], encoding="utf-8")
    result = _check(root)
    assert result.returncode == 1
    assert "requirements-dev.lock has no '# pyproject-fingerprint:' first line" in result.stderr
