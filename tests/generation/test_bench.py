from __future__ import annotations

import sys
import types

from generation import bench


def test_it_dispatches_train_to_bench_train(monkeypatch):
    seen = []
    fake = types.ModuleType("generation.bench_train")
    fake.main = lambda argv: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, "generation.bench_train", fake)
    assert bench.main(["train", "--quick"]) == 0
    assert seen == [["--quick"]]


def test_it_says_so_when_bench_train_is_missing(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "generation.bench_train", None)
    assert bench.main(["train"]) == 2
    assert "generation.bench_train is not available" in capsys.readouterr().err


def test_it_measures_memory_bandwidth():
    assert bench.memory_bandwidth_gbs(size_mb=16, repeats=2) > 0.1
