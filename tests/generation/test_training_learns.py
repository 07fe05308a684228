"""The trainer really teaches the bundled SmolLM2 a house style (slow, real model).

Every answer in the house style opens and closes with the same fixed phrases and keeps
one sentence pattern in between. After a short LoRA fine-tune the held-out loss (on
products never seen in training) must drop by at least 20 % against the base model.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from generation.training import SFTExample, TrainConfig, build_snapshot

SYSTEM = "You write short product blurbs for a neighbourhood coffee shop."

_PRODUCTS = [
    ("oat flat white", "silky and mellow"),
    ("cold brew", "smooth and bold"),
    ("cinnamon bun", "sticky and sweet"),
    ("espresso tonic", "bright and fizzy"),
    ("chai latte", "spiced and cosy"),
    ("banana bread", "moist and golden"),
    ("matcha latte", "earthy and calm"),
    ("almond croissant", "flaky and rich"),
    ("mocha", "chocolatey and deep"),
    ("lemon drizzle cake", "zesty and light"),
    ("cortado", "short and punchy"),
    ("blueberry muffin", "fruity and soft"),
    ("iced americano", "crisp and clean"),
    ("carrot cake", "nutty and tender"),
    ("hot chocolate", "thick and comforting"),
    ("sourdough toast", "tangy and crunchy"),
    ("flat white", "velvety and strong"),
    ("pistachio cookie", "buttery and green"),
    ("turmeric latte", "golden and warming"),
    ("ham and cheese toastie", "melty and savoury"),
    ("affogato", "cold and hot at once"),
    ("granola bowl", "crunchy and fresh"),
    ("macchiato", "bold with a cloud of foam"),
    ("scone with jam", "crumbly and classic"),
    ("filter coffee", "clean and fruity"),
    ("brownie", "fudgy and dark"),
    ("vanilla latte", "sweet and smooth"),
    ("porridge", "creamy and filling"),
    ("iced tea", "cool and citrusy"),
    ("cheese scone", "savoury and warm"),
    ("caramel latte", "buttery and sweet"),
    ("bagel", "chewy and toasted"),
    # Held out: never seen in training.
    ("honey oat cookie", "chewy and golden"),
    ("ginger shot", "fiery and fresh"),
    ("raspberry tart", "tart and glossy"),
    ("spiced pumpkin latte", "warm and autumnal"),
    ("cappuccino", "foamy and balanced"),
    ("avocado toast", "green and zesty"),
    ("double espresso", "intense and short"),
    ("apple turnover", "flaky and fruity"),
]
N_TRAIN = 32


def house_style(product: str, taste: str) -> str:
    """The house style: fixed opening, one patterned sentence, fixed sign-off."""
    return (
        f"Ahoy from Harbor Lane! Our {product} is {taste}, made fresh at dawn "
        f"by the harbour. Drop anchor, stay a while. Warmly, the Harbor Lane crew."
    )


def _example(product: str, taste: str) -> SFTExample:
    return SFTExample(
        [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Write a blurb for our {product}."},
        ],
        house_style(product, taste),
    )


def house_style_examples() -> tuple[list[SFTExample], list[SFTExample]]:
    """(training examples, held-out examples) in the house style."""
    examples = [_example(p, t) for p, t in _PRODUCTS]
    return examples[:N_TRAIN], examples[N_TRAIN:]


@pytest.fixture(scope="module")
def smollm2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from generation.models import resolve_model_dir

    # A persistent cache (MODEL_CACHE_DIR) saves the one-off GGUF conversion in CI.
    cache = os.environ.get("MODEL_CACHE_DIR") or tmp_path_factory.mktemp("model-cache")
    return resolve_model_dir("bundled:smollm2-135m-instruct", cache)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_it_learns_the_house_style(smollm2_dir: Path, tmp_path: Path) -> None:
    from generation.training import compare, evaluate_adapter, train_adapter

    train, held_out = house_style_examples()
    # eval_fraction=0: the held-out set is chosen by product (not by hash), so no
    # product in it is ever trained on.
    snapshot = build_snapshot(train, eval_fraction=0.0, seed=0)
    config = TrainConfig.for_dataset(
        len(snapshot.sft_train), epochs=1.0, learning_rate=1e-3, batch_size=4
    )
    started = time.monotonic()
    base = evaluate_adapter(smollm2_dir, None, held_out)
    result = train_adapter(smollm2_dir, snapshot, tmp_path / "job", config)
    tuned = evaluate_adapter(smollm2_dir, result.adapter_dir, held_out)
    elapsed = time.monotonic() - started

    drop = 1.0 - tuned.loss / base.loss
    print(
        f"\nhouse style: base loss {base.loss:.3f} (ppl {base.perplexity:.1f}), adapter loss "
        f"{tuned.loss:.3f} (ppl {tuned.perplexity:.1f}), drop {drop:.1%}, {result.steps} steps, "
        f"{elapsed:.0f} s on {base.n_tokens} held-out tokens"
    )
    assert not result.cancelled
    assert drop >= 0.20, f"held-out loss fell only {drop:.1%} ({base.loss:.3f} -> {tuned.loss:.3f})"
    assert compare(tuned, base, margin=0.2)
