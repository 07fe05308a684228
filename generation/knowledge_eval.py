"""A fixed evaluation of knowledge retrieval: briefs and the passage each one needs.

``python -m generation.knowledge_eval [--k 1 3 5]`` prints recall@k for the studio's
retrieval (BM25, words + CJK bigrams) and, for comparison, for BM25 over
whitespace-split tokens (what splitting on spaces would give); its last line is one
JSON object.

The knowledge base is one made-up coffee roaster's: a product sheet, a delivery and
returns page, a brand story, a Chinese product page and a fact list (24 passages),
so a brief has to find its passage among many that share its words ("coffee",
"bottle", "bag"). Each brief names the passages it needs by a phrase only they contain,
so the set survives changes to the passage splitter.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import rank_bm25

from generation.knowledge import Passage, fact_lines, rank, split_passages

DOCUMENTS: dict[str, str] = {
    "Product sheet": """\
Harbor Lane Cold Brew Concentrate comes in a 1 litre glass bottle. One bottle makes 12 cups
when mixed one part concentrate to three parts water or milk. Keep it in the fridge after
opening and use it within 14 days.

The Harbor Blend is a medium roast of Brazilian and Ethiopian beans with notes of cocoa and
orange peel. It sells in 250 g and 1 kg bags. The 250 g bag costs $11.50 and the 1 kg bag
costs $38.

Night Shift Decaf is decaffeinated with the Swiss Water process, without solvents. It keeps
its caramel sweetness and is 99.9% caffeine free.

The Tidewater espresso pod fits Nespresso Original machines. A box holds 30 aluminium pods,
and the pods are recyclable through our free return bag.

Our drip bags are single-serve filters that hang on the rim of a mug. Pour 180 ml of hot
water in three rounds. A box of 10 drip bags costs $9.

The ceramic pour-over dripper is made in Portugal and fits size 02 paper filters. It is
dishwasher safe.""",
    "Delivery and returns": """\
We roast on Mondays and Thursdays and ship within 48 hours of roasting. Orders over $40
ship free within the continental United States; smaller orders pay a flat $5.95.

Subscriptions deliver every two or four weeks. You can pause, skip or cancel a subscription
at any time from your account page, and subscribers save 10% on every bag.

Unopened coffee can be returned within 30 days for a full refund. Opened bags are not
refundable, but if you do not like a roast we will send you a different one for free.

International shipping reaches Canada and the United Kingdom in 5 to 8 business days.
Customs duties are paid by the recipient.""",
    "Brand story": """\
Harbor Lane Coffee was founded in 2014 by Mara Okafor in a former boat repair shop in
Portland, Maine. The roastery still stands on the harbour front.

We buy green coffee directly from twelve farms and pay at least 25% above the Fairtrade
minimum price. Every bag names the farm and the harvest month.

Our roaster is a 15 kg Loring Smart Roaster that burns about 80% less gas than a
conventional drum roaster. Chaff and burlap sacks go to a community garden.

The company is a certified B Corporation since 2021. Baristas earn a living wage and have
health insurance from their first day.""",
    "产品介绍（中文）": """\
港湾冷萃咖啡液采用一升玻璃瓶装，一瓶可以冲调十二杯。开封后请冷藏，并在十四天内饮用完毕。

港湾拼配咖啡豆为中度烘焙，带有可可和橙皮的风味。二百五十克装售价八十五元。

我们在云南普洱与当地咖啡农合作，收购价格高于市场价百分之二十。

订阅用户每两周或四周收到一次新鲜烘焙的咖啡豆，可随时暂停或取消。""",
}

FACTS = """\
Harbor Lane Coffee never claims health benefits for coffee.
The Spring Sampler box has three 100 g bags and costs $24.
Gift cards are sold in amounts of $25, $50 and $100 and never expire.
The café on Commercial Street opens at 6:30 am on weekdays.
The loyalty card gives a free drink after nine paid drinks.
The oat milk latte is made with Oatly Barista Edition."""


@dataclass(frozen=True)
class EvalBrief:
    """A brief's retrieval query and phrases found only in the passages it needs."""

    query: str
    needs: tuple[str, ...]


BRIEFS: tuple[EvalBrief, ...] = (
    EvalBrief("Instagram ad: Cold Brew Concentrate for summer. How many cups in a bottle "
              "and how to mix it.", ("One bottle makes 12 cups",)),
    EvalBrief("Article: what does the Harbor Blend taste like, and what does a bag cost?",
              ("The 250 g bag costs",)),
    EvalBrief("Email to customers: decaf that tastes like real coffee, no chemicals",
              ("Swiss Water process",)),
    EvalBrief("FAQ: can I return coffee I do not like? refund policy",
              ("full refund",)),
    EvalBrief("Social post: free shipping threshold and delivery times",
              ("ship free",)),
    EvalBrief("News: the story of our founder and where the roastery began",
              ("founded in 2014",)),
    EvalBrief("Article: how we pay farmers more than Fairtrade",
              ("Fairtrade minimum",)),
    EvalBrief("Ad copy: a gift for coffee lovers, gift cards in three amounts",
              ("Gift cards are sold",)),
    EvalBrief("Email: pause or skip your subscription whenever you like; subscriber discount",
              ("subscribers save 10%",)),
    EvalBrief("Summary of our sustainability: energy efficient roaster, less gas",
              ("Loring Smart Roaster",)),
    EvalBrief("Social post: espresso pods for Nespresso machines, recyclable",
              ("30 aluminium pods",)),
    EvalBrief("Ad: Spring Sampler box of three coffees", ("Spring Sampler",)),
    EvalBrief("News: opening hours of the café on Commercial Street", ("opens at 6:30",)),
    EvalBrief("Outline: brewing guide for drip bags, how much water",
              ("Pour 180 ml",)),
    EvalBrief("小红书广告：冷萃咖啡液，一瓶能冲几杯？", ("一瓶可以冲调十二杯",)),
    EvalBrief("文章：港湾拼配咖啡豆的风味和价格", ("二百五十克装售价",)),
    EvalBrief("新闻：我们和云南咖啡农的合作", ("云南普洱",)),
    EvalBrief("Email to Canadian customers: how long does shipping to Canada take?",
              ("Canada and the United Kingdom",)),
)


def knowledge_base(max_chars: int = 600) -> list[Passage]:
    """The evaluation's passages, split as the studio splits documents and facts."""
    texts: list[str] = []
    for body in DOCUMENTS.values():
        texts += split_passages(body, max_chars=max_chars)
    texts += fact_lines(FACTS)
    return [Passage(key=i, text=t) for i, t in enumerate(texts)]


Ranker = Callable[[str, Sequence[Passage]], list[int]]


def studio_ranker(query: str, passages: Sequence[Passage]) -> list[int]:
    return [i for i, _ in rank(query, passages)]


def whitespace_ranker(query: str, passages: Sequence[Passage]) -> list[int]:
    """BM25Okapi as rank_bm25 ships it over lower-cased, space-split tokens."""
    bm25 = rank_bm25.BM25Okapi([p.text.lower().split() for p in passages])
    scores = bm25.get_scores(query.lower().split())
    return sorted(range(len(passages)), key=lambda i: (-scores[i], i))


def recall_at(ranker: Ranker, ks: Sequence[int], passages: Sequence[Passage] | None = None,
              briefs: Sequence[EvalBrief] = BRIEFS) -> dict[int, float]:
    """Mean over briefs of the share of the passages a brief needs found in its top k."""
    passages = list(passages if passages is not None else knowledge_base())
    totals = dict.fromkeys(ks, 0.0)
    for brief in briefs:
        needed = {i for i, p in enumerate(passages) if any(n in p.text for n in brief.needs)}
        if not needed:
            raise ValueError(f"no passage holds {brief.needs!r}")
        ranked = ranker(brief.query, passages)
        for k in ks:
            totals[k] += len(needed & set(ranked[:k])) / len(needed)
    return {k: round(total / len(briefs), 3) for k, total in totals.items()}


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, nargs="+", default=[1, 3, 5])
    args = parser.parse_args(argv)
    passages = knowledge_base()
    started = time.perf_counter()
    ours = recall_at(studio_ranker, args.k, passages)
    ms = (time.perf_counter() - started) * 1000 / len(BRIEFS)
    naive = recall_at(whitespace_ranker, args.k, passages)
    print(f"{len(BRIEFS)} briefs, {len(passages)} passages")
    for k in args.k:
        print(f"recall@{k}: studio BM25 {ours[k]:.3f}   BM25 on space-split tokens {naive[k]:.3f}")
    report: dict[str, object] = {
        "briefs": len(BRIEFS), "passages": len(passages),
        **{f"recall@{k}": ours[k] for k in args.k},
        **{f"whitespace_recall@{k}": naive[k] for k in args.k},
        "ms_per_brief": round(ms, 2),
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
