from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generation.checks import (
    BANNED_TERM,
    EMPTY,
    NEAR_COPY,
    PERSONAL_CARD,
    PERSONAL_EMAIL,
    PERSONAL_ID,
    PERSONAL_PHONE,
    STYLE_RULE,
    TRADITIONAL_CHINESE,
    TRUNCATED,
    WRONG_LANGUAGE,
    ReferenceCorpus,
    check_banned_terms,
    check_draft,
    check_language,
    check_personal_data,
    check_simplified,
    find_personal_data,
    luhn_valid,
    must_not_phrases,
    near_identical_pairs,
    resident_id_valid,
    shingle_similarity,
)


def codes(flags):
    return [f.code for f in flags]


def test_it_flags_each_banned_term_with_its_span():
    text = "Our Cheap coffee is guaranteed fresh; cheapest is not banned."
    flags = check_draft(text, banned_terms=("cheap", "guaranteed"))
    assert codes(flags) == [BANNED_TERM, BANNED_TERM]
    assert [text[s:e] for s, e in (f.span for f in flags)] == ["Cheap", "guaranteed"]


def test_it_flags_must_not_phrases():
    assert must_not_phrases('Never say "world-class" or \'synergy\'') == ["world-class", "synergy"]
    assert must_not_phrases("Use jargon.") == ["Use jargon"]
    assert must_not_phrases("Do not write long rambling sentences about the company history") == []
    text = "A world-class blend with real synergy."
    flags = check_draft(text, must_not=('Never say "world-class" or "synergy"',))
    assert codes(flags) == [STYLE_RULE, STYLE_RULE]
    assert text[flags[0].span[0]:flags[0].span[1]] == "world-class"


def test_it_flags_personal_data():
    text = ("Write to jane.doe@example.com or call +44 20 7946 0958. "
            "Card 4111 1111 1111 1111 works; 4111 1111 1111 1112 fails Luhn. Order 12345678.")
    flags = check_draft(text)
    found = {(f.code, text[f.span[0]:f.span[1]]) for f in flags}
    assert (PERSONAL_EMAIL, "jane.doe@example.com") in found
    assert (PERSONAL_PHONE, "+44 20 7946 0958") in found
    assert (PERSONAL_CARD, "4111 1111 1111 1111") in found
    assert not any(c == PERSONAL_CARD and "1112" in s for c, s in found)
    assert not any("12345678" in s for _, s in found)
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mail josé.núñez@correo.es today", [("email", "josé.núñez@correo.es")]),
        ("Ring +33 1 42 68 53 00", [("phone", "+33 1 42 68 53 00")]),
        ("Ring +49 30 1234567 or 020 79460958", [("phone", "+49 30 1234567"),
                                                  ("phone", "020 79460958")]),
        ("Call +1 (555) 123-4567 or 555.123.4567", [("phone", "+1 (555) 123-4567"),
                                                     ("phone", "555.123.4567")]),
        ("Dial 07700900123 or +15551234567", [("phone", "07700900123"),
                                               ("phone", "+15551234567")]),
        # A date in front of a phone number is neither part of it nor flagged.
        ("2024-05-01 555 123 4567", [("phone", "555 123 4567")]),
        # A Luhn-invalid prefix does not hide the card after it.
        ("Ref 555 123 4111 1111 1111 1111", [("card", "4111 1111 1111 1111")]),
        # Digits inside an email belong to the email only.
        ("5551234567@example.com", [("email", "5551234567@example.com")]),
        ("Card 4111-1111-1111-1111 or 5500005555555559", [("card", "4111-1111-1111-1111"),
                                                          ("card", "5500005555555559")]),
        # Not personal data.
        ("On 2024-05-01, 12/05/2024 and 12.05.2024", []),
        ("From 1999-2004, then 2022 2023 2024", []),
        ("Price $1,299.99 or €12.500.000 or 12 500 000 €; up 45 000 000 % or 12.5%", []),
        ("Order 12345678, 150000000 cups, timestamp 1715000000", []),
        ("ISBN 978-3-16-148410-0 or 0-306-40615-2, v1.2.3 at 10:30", []),
        ("Card 4111 1111 1111 1112 fails Luhn", []),
        ("Figures\n555\n123\n4567 on separate lines", []),
    ],
)
def test_it_finds_personal_data(text, expected):
    spans = find_personal_data(text)
    assert [(s.kind, text[s.start:s.end]) for s in spans] == expected
    assert [f.span for f in check_personal_data(text)] == [(s.start, s.end) for s in spans]


def test_it_flags_a_near_copy_of_the_corpus_with_the_span():
    source = ("Our beans are roasted slowly in small batches on the hill above the old "
              "harbour, then packed the same day so every cup tastes of the morning.")
    corpus = ReferenceCorpus(["Unrelated text about tea.", source])
    copied = ("Good news! " + source[:120] + " That is all.")
    flags = check_draft(copied, corpus=corpus)
    assert codes(flags) == [NEAR_COPY]
    start, end = flags[0].span
    assert copied[start:end] in source
    assert "reference text #1" in flags[0].message
    assert check_draft("Our beans are roasted slowly. Nothing else matches here.",
                       corpus=corpus) == []


def test_it_finds_near_identical_variants():
    a = "Fresh coffee for busy mornings, brewed in a minute and ready to go."
    b = "Fresh coffee for busy mornings, brewed in a minute and ready to go!"
    c = "A slow Sunday pour-over for people who love the ritual of brewing."
    assert shingle_similarity(a, b) == 1.0
    assert near_identical_pairs([a, c, b]) == [(0, 2)]


def test_it_flags_empty_and_cut_off_output():
    assert codes(check_draft("  \n", finish_reason="eos")) == [EMPTY]
    assert codes(check_draft("The end came when the", finish_reason="length")) == [TRUNCATED]
    assert check_draft("The end.", finish_reason="length") == []
    assert check_draft("Stopped early without punctuation", finish_reason="eos") == []


def test_it_scans_long_digit_runs_in_linear_time():
    # Draft and edit texts go up to 100,000 characters; no input may make the scan
    # quadratic (every start of a card number in one long run is tried).
    for text in ("0 " * 50_000, "4111 1111 1111 1111 " * 5_000, "1." * 50_000):
        started = time.perf_counter()
        find_personal_data(text)
        assert time.perf_counter() - started < 10


# --- Chinese, mixed text and evasions --------------------------------------------------

PROPERTY = settings(max_examples=300, derandomize=True, database=None, deadline=None)
CHINESE = st.text(alphabet="我们的咖啡豆在山上慢慢烘焙当天包装让每一杯都带着清晨味道，。", max_size=40)
ENGLISH = st.lists(st.sampled_from(["fresh", "beans", "roasted", "daily", "cup", "Cheapest",
                                    "the", "morning"]), max_size=12).map(" ".join)
EITHER = st.one_of(CHINESE, ENGLISH, st.tuples(CHINESE, ENGLISH).map("".join))


@pytest.mark.parametrize("written", [
    "chеap",  # Cyrillic е
    "ｃｈｅａｐ",  # full-width
    "che\u200bap",  # zero-width space
    "CΗEAP",  # Greek capital eta
])
def test_it_catches_a_banned_term_however_it_is_written(written):
    for text in (f"Our {written} beans", f"我们的{written}咖啡"):
        flags = check_banned_terms(text, ["cheap"])
        assert [text[f.span[0]:f.span[1]] for f in flags] == [written]
    assert check_banned_terms("the cheapest cup", ["cheap"]) == []


def test_it_finds_a_chinese_banned_term_without_word_boundaries():
    text = "这款产品是最便宜的选择"
    flags = check_draft(text, banned_terms=("最便宜",), language="zh-hans")
    assert [(f.code, text[f.span[0]:f.span[1]]) for f in flags] == [(BANNED_TERM, "最便宜")]
    # Written in traditional characters, it is the same term.
    assert codes(check_banned_terms("這是最便宜的選擇，價格最低", ["价格"])) == [BANNED_TERM]


def test_it_flags_chinese_must_not_phrases():
    assert must_not_phrases("不要说「世界一流」") == ["世界一流"]
    text = "我们是世界一流的咖啡品牌。"
    flags = check_draft(text, must_not=("不要说「世界一流」",), language="zh-hans")
    assert [text[f.span[0]:f.span[1]] for f in flags if f.code == STYLE_RULE] == ["世界一流"]


@PROPERTY
@given(EITHER, EITHER, st.sampled_from(["最便宜", "cheap", "ｃｈｅａｐ", "ch\u200beap", "chеap"]))
def test_a_banned_term_is_found_wherever_it_sits_in_either_language(before, after, written):
    text = f"{before} {written} {after}"
    term = "最便宜" if written == "最便宜" else "cheap"
    spans = [f.span for f in check_banned_terms(text, [term])]
    assert (len(before) + 1, len(before) + 1 + len(written)) in spans


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("请致电13800138000联系我们", [("phone", "13800138000")]),
        ("手机：+86 138 0013 8000。", [("phone", "+86 138 0013 8000")]),
        ("或 0086 13800138000", [("phone", "0086 13800138000")]),
        ("客服１３８００１３８０００", [("phone", "１３８００１３８０００")]),
        ("座机010-12345678，（0755）1234567", [("phone", "010-12345678"),
                                            ("phone", "（0755）1234567")]),
        ("身份证号11010519491231002X。", [("id_number", "11010519491231002X")]),
        ("ID 110105 19491231 002x", [("id_number", "110105 19491231 002x")]),
        ("卡号6222021234567890128，邮箱jane@example.com谢谢", [
            ("card", "6222021234567890128"), ("email", "jane@example.com")]),
        # A wrong check digit, an impossible birth date, a short number: not IDs.
        ("编号110105194912310021", []),
        ("编号110105194913310028", []),
        ("订单号12345678，2024年5月1日，价格1299元", []),
    ],
)
def test_it_finds_chinese_personal_data(text, expected):
    spans = find_personal_data(text)
    assert [(s.kind, text[s.start:s.end]) for s in spans] == expected


def test_it_validates_resident_id_check_digits():
    assert resident_id_valid("11010519491231002X") and resident_id_valid("11010519491231002x")
    assert not resident_id_valid("110105194912310021")
    assert codes(check_personal_data("11010519491231002X")) == [PERSONAL_ID]


def _resident_id(body17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights, strict=True)) % 11]


PERSONAL = st.one_of(
    st.builds(lambda d: f"1{d[0]}{d[1:]}", st.text("3456789", min_size=1, max_size=1)
              .flatmap(lambda a: st.text("0123456789", min_size=9, max_size=9).map(
                  lambda b: a + b))).map(lambda s: (PERSONAL_PHONE, s)),
    st.builds(lambda area, day, seq: _resident_id(f"{area}{day}{seq}"),
              st.sampled_from(["110105", "310104", "440305"]),
              st.sampled_from(["19491231", "19800229", "20011009"]),
              st.text("0123456789", min_size=3, max_size=3)).map(lambda s: (PERSONAL_ID, s)),
)


@PROPERTY
@given(CHINESE, CHINESE, PERSONAL)
def test_chinese_personal_data_is_found_inside_chinese_prose(before, after, item):
    code, value = item
    text = f"{before}{value}{after}"
    flags = [(f.code, text[f.span[0]:f.span[1]]) for f in check_personal_data(text)]
    assert (code, value) in flags


def test_it_flags_a_near_copy_of_a_chinese_reference():
    source = ("我们的咖啡豆在山上的小作坊里慢慢烘焙，当天包装，让每一杯都带着清晨的味道。"
              "我们只选用当季的生豆，从不使用香精。")
    corpus = ReferenceCorpus(["无关的文字。", source])
    copied = "好消息！" + source + "就这些。"
    flags = check_draft(copied, corpus=corpus, language="zh-hans")
    assert codes(flags) == [NEAR_COPY]
    start, end = flags[0].span
    assert copied[start:end] in source and end - start > 40
    assert "characters copied from reference text #1" in flags[0].message
    # A shared phrase of a few characters is no copy.
    assert check_draft("我们的咖啡豆很好喝，欢迎来店里坐坐。", corpus=corpus,
                       language="zh-hans") == []


def test_it_flags_a_mixed_near_copy():
    source = "全新 Autumn Blend 咖啡豆，采用 slow roasting 工艺，每一批都在 small batches 里完成烘焙。"
    corpus = ReferenceCorpus([source])
    flags = ReferenceCorpus([source]).check("介绍：" + source)
    assert codes(flags) == [NEAR_COPY]
    assert "words and" in flags[0].message and "characters" in flags[0].message
    assert corpus.check("Autumn Blend 咖啡豆") == []


def test_two_chinese_variants_one_character_apart_are_near_identical():
    a = "清晨的第一杯咖啡，来自山上的小作坊。我们慢慢烘焙每一批豆子，当天包装，当天发货。"
    b = a.replace("豆子", "豆儿")
    c = "周末适合手冲：慢一点，享受研磨和等待的仪式感，也给自己留一点安静的时间。"
    assert shingle_similarity(a, b) >= 0.8
    assert near_identical_pairs([a, c, b]) == [(0, 2)]


@PROPERTY
@given(st.text(alphabet="我们的咖啡豆在山上慢慢烘焙当天包装让每一杯都带着清晨味道",
               min_size=24, max_size=60))
def test_any_chinese_passage_copied_whole_is_a_near_copy(passage):
    assert codes(ReferenceCorpus([passage]).check("开头。" + passage + "。结尾")) == [NEAR_COPY]


def test_it_flags_a_draft_in_the_wrong_language():
    english = "Fresh coffee for busy mornings, brewed in a minute and ready to go."
    chinese = "清晨的第一杯咖啡，来自山上的小作坊。我们慢慢烘焙每一批豆子。"
    assert codes(check_language(english, "zh-hans")) == [WRONG_LANGUAGE]
    assert codes(check_language(chinese, "en")) == [WRONG_LANGUAGE]
    assert check_language(english, "en") == [] and check_language(chinese, "zh-hans") == []
    # Brand names and numbers in a Chinese draft are fine; so is a short reply.
    assert check_language("全新 Autumn Blend 咖啡豆，iPhone 15 Pro 用户专享八折优惠。",
                          "zh-hans") == []
    assert check_language("OK", "zh-hans") == []
    # Right-to-left scripts and emoji are no crash: Arabic is the wrong language.
    arabic = "مرحبا بكم في متجر القهوة الخاص بنا اليوم مع عرض خاص جدا للعملاء 😀"
    assert "another script" in check_language(arabic, "en")[0].message


def test_it_flags_traditional_characters_in_a_simplified_project():
    text = "这款產品是最便宜的選擇"
    flags = check_draft(text, language="zh-hans")
    assert [(f.code, text[f.span[0]:f.span[1]]) for f in flags] == [
        (TRADITIONAL_CHINESE, "產"), (TRADITIONAL_CHINESE, "選擇")]
    assert "simplified: 选择" in flags[1].message
    assert check_draft(text, language="en") == []  # not an English project's business
    many = "，我们喜欢喝咖啡，".join(["這個"] * 30)
    assert len(check_simplified("，".join(["這個"] * 30))) == 1  # close together: one stretch
    assert len(check_simplified(many)) == 10 and "more stretches" in check_simplified(many)[-1].message


@PROPERTY
@given(EITHER)
def test_checks_never_crash_on_odd_text(text):
    odd = text + "\ud800 😀 עברית \u202e\u200b"
    for language in ("en", "zh-hans"):
        check_draft(odd, banned_terms=("最便宜", "cheap"), must_not=("Never \"x\"",),
                    corpus=[text], language=language)
