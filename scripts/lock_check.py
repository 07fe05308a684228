"""Is the lock made from this pyproject.toml? (stdlib only: it runs before any install)

`make lock` writes, as the first line of requirements.lock and requirements-dev.lock, a
fingerprint of what pyproject.toml asks for (dependencies, the dev extra and the build
requirements). setup.sh, and so both README commands and CI, refuse to install from a
lock whose fingerprint differs: a dependency added, removed or re-ranged in
pyproject.toml without `make lock` would otherwise be silently ignored.

    python3 scripts/lock_check.py            # exit 0, or 1 with what to do
    python3 scripts/lock_check.py --print [PYPROJECT]   # the fingerprint it would record
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ("requirements.lock", "requirements-dev.lock")
PREFIX = "# pyproject-fingerprint: "


def fingerprint(pyproject: Path = ROOT / "pyproject.toml") -> str:
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    wanted = {
        "requires-python": data["project"].get("requires-python", ""),
        "dependencies": sorted(data["project"].get("dependencies", [])),
        "dev": sorted(data["project"].get("optional-dependencies", {}).get("dev", [])),
        "build": sorted(data.get("build-system", {}).get("requires", [])),
    }
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


def problems(root: Path = ROOT) -> list[str]:
    want = fingerprint(root / "pyproject.toml")
    found = []
    for name in LOCKS:
        lock = root / name
        if not lock.is_file():
            found.append(f"{name} is missing. Run `make lock` to make it from pyproject.toml, "
                         "then commit it.")
            continue
        first = lock.read_text(encoding="utf-8").split("\n", 1)[0]
        if not first.startswith(PREFIX):
            found.append(f"{name} has no '{PREFIX.strip()}' first line: it was not made by "
                         "`make lock`. Run `make lock` and commit the result.")
        elif first[len(PREFIX):].strip() != want:
            found.append(f"{name} is out of date: pyproject.toml's dependencies changed since "
                         "it was made. Run `make lock` (keeps every other pin as it is) and "
                         "commit requirements.lock and requirements-dev.lock.")
    return found


def main(argv: list[str]) -> int:
    if argv[1:2] == ["--print"]:
        print(fingerprint(Path(argv[2]) if len(argv) > 2 else ROOT / "pyproject.toml"))
        return 0
    found = problems()
    for line in found:
        print(f"lock check: {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
