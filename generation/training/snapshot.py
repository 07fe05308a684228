"""Dataset snapshots: a frozen, content-addressed set of examples with a train/eval split.

The split is decided per example by hashing the example (with the seed), never by
shuffling the list: the same examples in any order give the same split, and an example
keeps its side as the project's data grows, so later eval sets never contain examples
an earlier version trained on.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from generation.training.data import PreferenceExample, SFTExample, to_jsonl
from generation.training.errors import SnapshotIntegrityError

SNAPSHOT_FORMAT = 1
MANIFEST = "manifest.json"
FILES = {
    "sft_train": "sft_train.jsonl",
    "sft_eval": "sft_eval.jsonl",
    "preference_train": "preference_train.jsonl",
    "preference_eval": "preference_eval.jsonl",
}


def _split_score(example_id: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{example_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


_Ex = TypeVar("_Ex", SFTExample, PreferenceExample)


def _split(
    examples: Iterable[_Ex], eval_fraction: float, seed: int
) -> tuple[tuple[_Ex, ...], tuple[_Ex, ...]]:
    # Deduplicate by identity (the same approval exported twice is not new evidence)
    # and order by id, so input order never matters.
    unique = {ex.example_id: ex for ex in examples}
    scored = sorted(unique.items(), key=lambda item: item[0])
    train = [ex for eid, ex in scored if _split_score(eid, seed) >= eval_fraction]
    evals = [ex for eid, ex in scored if _split_score(eid, seed) < eval_fraction]
    if eval_fraction > 0 and not evals and len(scored) >= 2:
        # Tiny sets can hash every example to the train side; move the lowest-scoring
        # one so there is always something to evaluate on. Still deterministic.
        eid, ex = min(scored, key=lambda item: _split_score(item[0], seed))
        train = [t for t in train if t.example_id != eid]
        evals = [ex]
    elif not train and evals:
        eid, ex = max(scored, key=lambda item: _split_score(item[0], seed))
        evals = [e for e in evals if e.example_id != eid]
        train = [ex]
    return tuple(train), tuple(evals)


@dataclass(frozen=True)
class Snapshot:
    """A deterministic dataset snapshot. ``content_hash`` names its exact content and
    split; rebuilding from the same examples gives the same hash."""

    content_hash: str
    eval_fraction: float
    seed: int
    sft_train: tuple[SFTExample, ...]
    sft_eval: tuple[SFTExample, ...]
    preference_train: tuple[PreferenceExample, ...]
    preference_eval: tuple[PreferenceExample, ...]

    @property
    def counts(self) -> dict[str, int]:
        """Example counts per part, ready to store as JSON."""
        return {
            "sft_train": len(self.sft_train),
            "sft_eval": len(self.sft_eval),
            "preference_train": len(self.preference_train),
            "preference_eval": len(self.preference_eval),
        }

    def _parts(self) -> dict[str, tuple[Any, ...]]:
        return {
            "sft_train": self.sft_train,
            "sft_eval": self.sft_eval,
            "preference_train": self.preference_train,
            "preference_eval": self.preference_eval,
        }

    def _file_texts(self) -> dict[str, str]:
        return {
            FILES[part]: to_jsonl([ex.to_record() for ex in examples])
            for part, examples in self._parts().items()
        }

    def manifest(self) -> dict[str, Any]:
        """What ``manifest.json`` holds: hash, split parameters, counts, file hashes."""
        return {
            "format": SNAPSHOT_FORMAT,
            "content_hash": self.content_hash,
            "eval_fraction": self.eval_fraction,
            "seed": self.seed,
            "counts": self.counts,
            "files": {
                name: hashlib.sha256(text.encode()).hexdigest()
                for name, text in self._file_texts().items()
            },
        }

    def write(self, directory: str | Path) -> Path:
        """Write the snapshot's JSONL files and manifest to ``directory`` atomically.

        Everything is written to a temporary sibling folder and renamed into place, so
        a kill leaves either no folder or a complete one. Writing the same snapshot to
        a folder that already holds it is a no-op; a folder holding different content
        raises :class:`SnapshotIntegrityError`.
        """
        directory = Path(directory)
        if directory.exists():
            existing = load_snapshot(directory)
            if existing.content_hash != self.content_hash:
                raise SnapshotIntegrityError(
                    f"{directory} already holds snapshot {existing.content_hash[:12]}, "
                    f"not {self.content_hash[:12]}."
                )
            return directory
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
        try:
            for name, text in self._file_texts().items():
                _write_synced(tmp / name, text)
            _write_synced(tmp / MANIFEST, json.dumps(self.manifest(), indent=2, sort_keys=True))
            os.replace(tmp, directory)
            _fsync_dir(directory.parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return directory


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _content_hash(
    sft_train: Iterable[SFTExample],
    sft_eval: Iterable[SFTExample],
    preference_train: Iterable[PreferenceExample],
    preference_eval: Iterable[PreferenceExample],
    eval_fraction: float,
    seed: int,
) -> str:
    doc = {
        "format": SNAPSHOT_FORMAT,
        "eval_fraction": eval_fraction,
        "seed": seed,
        "sft_train": [e.example_id for e in sft_train],
        "sft_eval": [e.example_id for e in sft_eval],
        "preference_train": [e.example_id for e in preference_train],
        "preference_eval": [e.example_id for e in preference_eval],
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def build_snapshot(
    sft_examples: Iterable[SFTExample],
    preference_examples: Iterable[PreferenceExample] = (),
    *,
    eval_fraction: float = 0.1,
    seed: int = 0,
) -> Snapshot:
    """Freeze examples into a :class:`Snapshot` with a deterministic train/eval split.

    Duplicate examples are kept once. Each example goes to eval when a hash of
    (seed, example) falls below ``eval_fraction``; with two or more examples at least
    one lands on each side. The same examples in any order give the same
    ``content_hash`` and split.
    """
    if not 0.0 <= eval_fraction < 1.0:
        raise ValueError("eval_fraction must be in [0, 1).")
    sft_train, sft_eval = _split(sft_examples, eval_fraction, seed)
    pref_train, pref_eval = _split(preference_examples, eval_fraction, seed)
    return Snapshot(
        content_hash=_content_hash(sft_train, sft_eval, pref_train, pref_eval, eval_fraction, seed),
        eval_fraction=eval_fraction,
        seed=seed,
        sft_train=sft_train,
        sft_eval=sft_eval,
        preference_train=pref_train,
        preference_eval=pref_eval,
    )


def load_snapshot(directory: str | Path) -> Snapshot:
    """Read a snapshot written by :meth:`Snapshot.write` and verify every file and the
    content hash against the manifest; raise :class:`SnapshotIntegrityError` on any
    mismatch."""
    directory = Path(directory)
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SnapshotIntegrityError(f"{directory} has no readable {MANIFEST}: {exc}") from exc
    if manifest.get("format") != SNAPSHOT_FORMAT:
        raise SnapshotIntegrityError(f"Unknown snapshot format {manifest.get('format')!r}.")
    parts: dict[str, list[Any]] = {}
    for part, name in FILES.items():
        try:
            raw = (directory / name).read_bytes()
        except OSError as exc:
            raise SnapshotIntegrityError(f"{directory / name} is missing.") from exc
        if hashlib.sha256(raw).hexdigest() != manifest["files"].get(name):
            raise SnapshotIntegrityError(
                f"{name} does not match the manifest (edited or truncated)."
            )
        cls: type[SFTExample] | type[PreferenceExample] = (
            SFTExample if part.startswith("sft") else PreferenceExample
        )
        parts[part] = [cls.from_record(json.loads(line)) for line in raw.decode().splitlines()]
    snapshot = Snapshot(
        content_hash=_content_hash(
            parts["sft_train"],
            parts["sft_eval"],
            parts["preference_train"],
            parts["preference_eval"],
            manifest["eval_fraction"],
            manifest["seed"],
        ),
        eval_fraction=manifest["eval_fraction"],
        seed=manifest["seed"],
        sft_train=tuple(parts["sft_train"]),
        sft_eval=tuple(parts["sft_eval"]),
        preference_train=tuple(parts["preference_train"]),
        preference_eval=tuple(parts["preference_eval"]),
    )
    if snapshot.content_hash != manifest["content_hash"]:
        raise SnapshotIntegrityError("The snapshot's content does not match its content hash.")
    return snapshot
