"""Edit cost in the units each script is written in: words for English, characters for
Chinese, so a one-character change in Chinese costs as much as a one-word change in
English."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from generation.editcost import edit_cost, edit_units

TEXT = st.text(alphabet=st.sampled_from(list("ab cd,.\n") + list("咖啡豆新鲜烘焙。")), max_size=40)


def test_english_is_measured_in_words_and_whitespace_is_free() -> None:
    assert edit_units("Fresh beans, roasted  weekly.") == [
        "Fresh", "beans", ",", "roasted", "weekly", "."]
    assert edit_cost("Fresh beans roasted weekly.", "Fresh beans\nroasted   weekly.").distance == 0
    one_word = edit_cost("Fresh beans roasted weekly.", "Fresh beans roasted daily.")
    assert (one_word.distance, one_word.units) == (1, 5)
    assert one_word.cost == 1 / 5


def test_chinese_is_measured_in_characters() -> None:
    assert edit_units("新鲜烘焙，每周送达。") == list("新鲜烘焙，每周送达。")
    one_char = edit_cost("新鲜烘焙的咖啡豆。", "新鲜烘培的咖啡豆。")
    assert (one_char.distance, one_char.units) == (1, 9)
    # Splitting on spaces would make the whole sentence one unit: a full rewrite.
    assert one_char.cost < 0.2


def test_mixed_text_counts_each_script_in_its_own_unit() -> None:
    assert edit_units("SmolLM2 写的草稿 costs 3.5 元") == [
        "SmolLM2", "写", "的", "草", "稿", "costs", "3", ".", "5", "元"]
    assert edit_units("don't re-roast") == ["don't", "re-roast"]


def test_approved_as_written_costs_nothing_and_a_rewrite_costs_one() -> None:
    assert edit_cost("Same text.", "Same text.").cost == 0
    assert edit_cost("", "").cost == 0
    assert edit_cost("Old words here", "Completely different sentence").cost == 1
    assert edit_cost("", "New text").cost == 1


@given(TEXT, TEXT)
def test_cost_is_a_normalised_symmetric_distance(a: str, b: str) -> None:
    ab, ba = edit_cost(a, b), edit_cost(b, a)
    assert ab.distance == ba.distance and 0 <= ab.cost <= 1
    assert (ab.cost == 0) == (edit_units(a) == edit_units(b))
