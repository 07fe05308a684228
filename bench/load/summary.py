"""Read locust's *_stats.csv and print a table, then ONE JSON line keyed by request name."""

from __future__ import annotations

import csv
import json
import sys


def main(path: str) -> None:
    with open(path, encoding="utf-8") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    result: dict[str, dict[str, float | int | None]] = {}
    for name in ("queue", "queue search", "draft", "approve"):
        row = rows.get(name)
        if row is None:
            result[name] = {"p50_ms": None, "p95_ms": None, "rps": 0.0, "errors": None}
            continue
        result[name] = {
            "p50_ms": float(row["50%"]),
            "p95_ms": float(row["95%"]),
            "rps": round(float(row["Requests/s"]), 2),
            "errors": int(row["Failure Count"]),
            "requests": int(row["Request Count"]),
        }
    for name, r in result.items():
        print(f"{name:12} p50 {r['p50_ms']} ms  p95 {r['p95_ms']} ms  {r['rps']} req/s  "
              f"errors {r['errors']}/{r.get('requests')}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
