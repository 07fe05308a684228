"""Run one training job from the command line (also used by the kill/resume test).

    python -m generation.training BASE_MODEL_DIR SNAPSHOT_DIR OUTPUT_DIR [--config JSON]

Prints one JSON line per progress report and the result as the last line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from generation.training.config import TrainConfig, TrainProgress
from generation.training.snapshot import load_snapshot


def main(argv: list[str] | None = None) -> int:
    """Train an adapter for a snapshot folder; resumable by running it again."""
    parser = argparse.ArgumentParser(prog="python -m generation.training")
    parser.add_argument("base_model_dir")
    parser.add_argument("snapshot_dir")
    parser.add_argument("output_dir")
    parser.add_argument("--config", help="TrainConfig fields as a JSON object", default=None)
    args = parser.parse_args(argv)

    from generation.training.trainer import train_adapter

    snapshot = load_snapshot(args.snapshot_dir)
    config = (
        TrainConfig.from_dict(json.loads(args.config))
        if args.config
        else TrainConfig.for_dataset(len(snapshot.sft_train))
    )

    def progress(report: TrainProgress) -> None:
        # Flushed per line so a parent process sees steps as they happen (and can
        # kill at a known step).
        print(json.dumps({"progress": dataclasses.asdict(report)}), flush=True)

    result = train_adapter(
        args.base_model_dir, snapshot, args.output_dir, config, progress=progress
    )
    data = dataclasses.asdict(result)
    data["adapter_dir"] = str(result.adapter_dir) if result.adapter_dir else None
    print(json.dumps({"result": data}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
