"""Benchmark: how well drafts stay on the brief, and how well the claim checks catch it.

    python -m generation.bench quality [--model SPEC] [--variants 2] [--quick]

Two parts:

1. **Drafts.** A fixed set of briefs (all eight kinds, each with facts it must respect:
   brief fields plus knowledge passages) is written by the model (``--model``, the
   bundled one by default) with the budgets the studio uses. Reported: the share of
   drafts left cut mid-sentence (``truncated_rate``), shortened to their last sentence
   (``shortened_rate``), with a placeholder (``placeholder_rate``), with at least one
   unsupported claim (``unsupported_claim_rate``), and the share of each brief's required
   facts that appear (``fact_coverage``).
2. **Checks.** Reference texts that state only the brief's facts, English and Chinese,
   each given a seeded set of injected wrong facts (a changed number or price, an
   invented duration, percentage or date, a superlative, a placeholder). Reported: the
   share of injected spans flagged (``claim_recall``), the share of flags that point at
   an injected span (``claim_precision``), and milliseconds per draft for all checks
   (``check_ms_per_draft``).

The last line is one JSON object. ``--quick``: one variant per brief, English set only
for the drafts (the bundled model does not write Chinese), about 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generation.checks import PLACEHOLDER, SHORTENED, TRUNCATED, UNSUPPORTED_CLAIM, check_draft
from generation.claims import brief_sources, check_claims, number_values
from generation.prompts import BriefInput
from generation.specs import DEFAULT_MODEL_SPEC
from generation.text import normalise


@dataclass(frozen=True)
class QualityBrief:
    brief: BriefInput
    knowledge: tuple[str, ...]
    required: tuple[str, ...]  # facts a good draft states (numbers compare by value)
    reference: str  # a text that states only what the brief and knowledge give


def _b(kind: str, title: str, target: int, extra: dict[str, Any] | None = None,
       **kw: Any) -> BriefInput:
    return BriefInput(kind=kind, title=title, target_words=target, extra=extra or {}, **kw)


COFFEE = ("Night Owl cold brew concentrate: 12 cups per bottle.",
          "A bottle costs $24.99; orders ship within 2 days.",
          "Roasted in Portland since 2019.")
BRIEFS: tuple[QualityBrief, ...] = (
    QualityBrief(_b("ad_copy", "Night Owl cold brew", 40,
                    {"product": "Night Owl cold brew concentrate", "channel": "Instagram",
                     "call_to_action": "Order today"}, audience="busy parents"),
                 COFFEE, ("12 cups", "$24.99"),
                 "Night Owl cold brew concentrate makes 12 cups per bottle for $24.99. "
                 "Order today and it ships within 2 days."),
    QualityBrief(_b("article", "How cold brew is made", 120,
                    instructions="Explain steeping and dilution."),
                 ("Cold brew steeps coarse grounds in cold water for 18 hours.",
                  "Dilute the concentrate one part to two parts water."),
                 ("18 hours",),
                 "Cold brew steeps coarse grounds in cold water for 18 hours. The result "
                 "is a concentrate: dilute it one part to two parts water before you drink it."),
    QualityBrief(_b("news", "Night Owl opens a second roastery", 100,
                    instructions="Opening on 14 March in Seattle."),
                 ("The second roastery opens on 14 March in Seattle with 25 staff.",),
                 ("14 March", "25"),
                 "Night Owl opens its second roastery in Seattle on 14 March. The new site "
                 "employs 25 staff."),
    QualityBrief(_b("summary", "Summary of the brewing guide", 60,
                    source_text="Use 100 grams of coarse coffee per litre of cold water. "
                                "Steep for 18 hours in the fridge, then filter twice."),
                 (), ("100 grams", "18 hours"),
                 "Steep 100 grams of coarse coffee per litre of cold water for 18 hours in "
                 "the fridge, then filter it twice."),
    QualityBrief(_b("outline", "A guide to cold brew at home", 80, {"chapters": 3}),
                 ("A home batch needs 100 grams of coffee and 18 hours.",),
                 ("18 hours",),
                 "1. Choosing beans\n2. Steeping 100 grams for 18 hours\n3. Diluting and "
                 "serving"),
    QualityBrief(_b("social_post", "Weekend cold brew", 40,
                    {"platform": "Instagram"}),
                 COFFEE, ("12 cups",),
                 "One bottle of Night Owl, 12 cups of weekend cold brew. Ships within 2 days."),
    QualityBrief(_b("email", "Your first Night Owl order", 80,
                    {"subject_hint": "Welcome"}),
                 COFFEE, ("2 days",),
                 "Subject: Welcome\n\nThank you for your first order. Your bottle of Night "
                 "Owl concentrate ships within 2 days and makes 12 cups."),
    QualityBrief(_b("faq", "Night Owl questions", 80, {"questions": 2}),
                 COFFEE, ("12 cups", "$24.99"),
                 "How many cups does a bottle make? 12 cups.\nWhat does it cost? $24.99 a "
                 "bottle, shipped within 2 days."),
)
ZH_BRIEFS: tuple[QualityBrief, ...] = (
    QualityBrief(_b("ad_copy", "夜猫冷萃", 80,
                    {"product": "夜猫冷萃咖啡浓缩液", "channel": "微信",
                     "call_to_action": "立即下单"}, language="zh-hans"),
                 ("夜猫冷萃咖啡浓缩液每瓶可冲12杯，售价99元，下单后3天内发货。",),
                 ("12杯", "99元"),
                 "夜猫冷萃咖啡浓缩液，每瓶可冲12杯，只要99元。立即下单，3天内发货。"),
    QualityBrief(_b("news", "夜猫开设第二家烘焙工坊", 120, language="zh-hans"),
                 ("第二家烘焙工坊于3月14日在杭州开业，员工25人。",),
                 ("3月14日", "25"),
                 "夜猫第二家烘焙工坊于3月14日在杭州开业，共有员工25人。"),
)

# Wrong facts to inject: (kind, text) pairs in each language.
_INJECT_EN = ("a bottle now costs $8.99", "delivery in just 7 minutes", "save 35% today",
              "offer ends on June 30", "the best cold brew in the world",
              "order from [Your Company Name]", "now in 40 cities", "save XX% this week")
_INJECT_ZH = ("现价只要19元", "30分钟送达", "限时5折", "活动截至6月30日", "全网最便宜",
              "联系【此处填写公司名称】", "已开设40家门店")


@dataclass
class _Tally:
    drafts: int = 0
    truncated: int = 0
    shortened: int = 0
    placeholder: int = 0
    unsupported: int = 0
    facts_wanted: int = 0
    facts_found: int = 0
    check_seconds: float = 0.0
    checked: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)


def fact_present(fact: str, text: str) -> bool:
    """A required fact appears: its numbers all appear (by value, as the claim checks
    compare them) and, for a fact without numbers, its words do (case-insensitive)."""
    numbers = number_values(normalise(fact).text)
    if numbers:
        return numbers <= number_values(normalise(text).text)
    return fact.casefold() in text.casefold()


def _sources(item: QualityBrief) -> list[str]:
    return brief_sources(item.brief, knowledge=item.knowledge)


def seeded_checks(items: tuple[QualityBrief, ...], injections: tuple[str, ...], *,
                  seed: int, rounds: int = 4) -> dict[str, float]:
    """Recall and precision of the claim checks on references with injected wrong facts."""
    rng = random.Random(seed)
    injected = flagged_injected = flags_total = flags_on_injected = 0
    for _ in range(rounds):
        for item in items:
            picks = rng.sample(injections, 2)
            sep = "" if item.brief.language == "zh-hans" else " "
            end = "。" if item.brief.language == "zh-hans" else "."
            text = item.reference
            spans = []
            for pick in picks:
                text = text.rstrip() + sep
                spans.append((len(text), len(text) + len(pick)))
                text += pick + end
            flags = check_claims(text, _sources(item))
            injected += len(spans)
            flagged_injected += sum(
                any(f.span[0] < e and s < f.span[1] for f in flags) for s, e in spans)
            flags_total += len(flags)
            flags_on_injected += sum(
                any(f.span[0] < e and s < f.span[1] for s, e in spans) for f in flags)
    return {"recall": flagged_injected / injected if injected else 0.0,
            "precision": flags_on_injected / flags_total if flags_total else 1.0}


def write_drafts(args: argparse.Namespace, items: tuple[QualityBrief, ...], tally: _Tally) -> None:
    from generation.engine import Engine, GenerationRequest, claim_sources

    engine = Engine.load(args.model, args.cache_dir)
    requests = [GenerationRequest(item.brief, variants=args.variants, seed=i,
                                  knowledge=item.knowledge, request_id=str(i))
                for i, item in enumerate(items)]
    for item, request, result in zip(items, requests, engine.generate(requests), strict=True):
        for draft in result.drafts:
            codes = {f.code for f in draft.flags}
            tally.drafts += 1
            tally.truncated += TRUNCATED in codes
            tally.shortened += SHORTENED in codes
            tally.placeholder += PLACEHOLDER in codes
            tally.unsupported += UNSUPPORTED_CLAIM in codes
            tally.facts_wanted += len(item.required)
            tally.facts_found += sum(fact_present(f, draft.text) for f in item.required)
            started = time.perf_counter()
            check_draft(draft.text, finish_reason=draft.finish_reason,
                        language=item.brief.language,
                        sources=claim_sources(request, result.knowledge_used))
            tally.check_seconds += time.perf_counter() - started
            tally.checked += 1
            if len(tally.examples) < 3:
                tally.examples.append({"kind": item.brief.kind, "text": draft.text[:300],
                                       "flags": sorted(codes)})


def main(argv: list[str] | None = None) -> int:
    from generation.bench import default_cache_dir

    parser = argparse.ArgumentParser(prog="python -m generation.bench quality",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL_SPEC)
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    parser.add_argument("--variants", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chinese-drafts", action="store_true",
                        help="also write the Chinese briefs (for a Chinese-capable model)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.variants = 1
    started = time.monotonic()
    tally = _Tally()
    items = BRIEFS + (ZH_BRIEFS if args.chinese_drafts else ())
    write_drafts(args, items, tally)
    en = seeded_checks(BRIEFS, _INJECT_EN, seed=args.seed)
    zh = seeded_checks(ZH_BRIEFS, _INJECT_ZH, seed=args.seed)
    # Checks' speed on the references too (drafts from a small model are short).
    for item in BRIEFS + ZH_BRIEFS:
        t = time.perf_counter()
        check_draft(item.reference, language=item.brief.language, sources=_sources(item))
        tally.check_seconds += time.perf_counter() - t
        tally.checked += 1
    n = max(1, tally.drafts)
    report = {
        "model": args.model, "drafts": tally.drafts,
        "truncated_rate": round(tally.truncated / n, 3),
        "shortened_rate": round(tally.shortened / n, 3),
        "placeholder_rate": round(tally.placeholder / n, 3),
        "unsupported_claim_rate": round(tally.unsupported / n, 3),
        "fact_coverage": round(tally.facts_found / max(1, tally.facts_wanted), 3),
        "claim_recall": round((en["recall"] + zh["recall"]) / 2, 3),
        "claim_precision": round((en["precision"] + zh["precision"]) / 2, 3),
        "claim_recall_en": round(en["recall"], 3), "claim_recall_zh": round(zh["recall"], 3),
        "claim_precision_en": round(en["precision"], 3),
        "claim_precision_zh": round(zh["precision"], 3),
        "check_ms_per_draft": round(1000 * tally.check_seconds / max(1, tally.checked), 2),
        "seconds": round(time.monotonic() - started, 1),
    }
    for example in tally.examples:
        print(json.dumps(example, ensure_ascii=False))
    print(json.dumps(report))
    return 0
