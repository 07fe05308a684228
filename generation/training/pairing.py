"""Training examples as stored rows → SFT examples and preference pairs (no Django).

The studio stores one row per example (see ``ExampleRow``); this module decides what
each teaches, so the rule lives next to the dataclasses it builds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from generation.training.data import PreferenceExample, SFTExample, prompt_key
from generation.training.errors import InvalidExample

logger = logging.getLogger(__name__)

# The kinds of stored example (the studio's TrainingExample.Kind values).
SFT = "sft"
PREFERENCE = "preference"
NEGATIVE = "negative"

# What one row holds, in this order: (id, project id, kind, prompt messages, completion,
# rejected completion).
ExampleRow = tuple[Any, ...]


def pair_examples(
    rows: Iterable[ExampleRow],
) -> tuple[list[SFTExample], list[PreferenceExample], list[int]]:
    """Rows (ascending id) as SFT examples and preference pairs, in a fixed order, plus
    the ids of every row read (skipped ones included, so a rebuild reads the same rows).

    * An approved text (``sft``) is an SFT example.
    * An edited draft (``preference``) is a preference pair: the editor's text over the
      model's draft.
    * A rejected draft (``negative``) is a preference pair with each approved text of the
      same prompt (the approved text chosen, the rejected draft rejected): both answer
      exactly the same input, and an editor took one and refused the other. Prompts are
      compared as stored, within one project: a pair never spans projects, whatever the
      rows hold. A rejected draft whose prompt has no approved text teaches nothing
      (there is no negative-only objective) and is left out.

    A malformed row is skipped and logged.
    """
    sft: list[SFTExample] = []
    pref: list[PreferenceExample] = []
    approved: dict[tuple[int, str], list[str]] = {}
    negatives: list[tuple[int, int, Any, str]] = []
    ids: list[int] = []
    for pk, project_id, kind, prompt, completion, rejected in rows:
        ids.append(pk)
        try:
            if kind == SFT:
                example = SFTExample(prompt or [], completion)
                sft.append(example)
                texts = approved.setdefault((project_id, prompt_key(example.messages)), [])
                if completion not in texts:
                    texts.append(completion)
            elif kind == PREFERENCE:
                pref.append(PreferenceExample(prompt or [], completion, rejected))
            elif kind == NEGATIVE:
                negatives.append((pk, project_id, prompt, rejected))
        except (InvalidExample, AttributeError, TypeError) as exc:
            logger.warning("training example %s skipped: %s", pk, exc)
    seen = {example.example_id for example in pref}
    for pk, project_id, prompt, rejected in negatives:
        try:
            for chosen in approved.get((project_id, prompt_key(prompt or [])), []):
                if chosen == rejected:
                    continue  # a rejected variant worded exactly like an approved one
                pair = PreferenceExample(prompt or [], chosen, rejected)
                if pair.example_id not in seen:
                    seen.add(pair.example_id)
                    pref.append(pair)
        except (InvalidExample, AttributeError, TypeError) as exc:
            logger.warning("training example %s skipped: %s", pk, exc)
    return sft, pref, ids
