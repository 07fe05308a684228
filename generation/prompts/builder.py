"""Turn a brief + project voice + examples into chat messages that fit the model.

The project's knowledge retrieved for the brief goes into the last user turn under
"Facts you may use" (best passage first).

Trimming order when the prompt does not fit ``context_window - max_new_tokens``:
few-shot examples first (last ones first), then knowledge passages (the lowest-ranked
first), then the source text (cut at a token boundary, marked with "[...]"). Examples
go first because they only show the house style, which the project's adapter also
carries, while a passage left out is a fact the draft cannot use; the source text goes
last because a summary is nothing without it. ``BuiltPrompt.knowledge_used`` says how
many passages stayed. The system message and the brief's instructions are never cut:
if they alone do not fit, PromptTooLongError says by how much.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from generation.errors import PromptTooLongError
from generation.languages import DEFAULT_LANGUAGE, ENGLISH, get_language
from generation.prompts.kinds import get_template
from generation.prompts.types import BriefInput, BuiltPrompt, FewShotExample, ProjectVoice

TRIM_MARK = " [...]"
SYSTEM_ROLE = ENGLISH.prompt.system_role
# English BPE text averages ~1.3 tokens per word (each language says its own
# ``tokens_per_unit``); the margin lets the model finish its last sentence instead of
# being cut at exactly the target length.
TOKENS_PER_WORD = ENGLISH.tokens_per_unit
LENGTH_MARGIN = 1.25
KNOWLEDGE_HEADING = (
    "Facts you may use (from the project's knowledge; state no other prices, numbers, "
    "dates or offers):"
)


# Chat-template markers of the common families (ChatML's <|im_start|>, <|endoftext|>,
# Llama 3's <|eot_id|>, <|start_header_id|>…), whatever the tokenizer in use knows.
_MARKER = re.compile(r"<\|[^<>|\s]{1,64}\|>")
# Inserted after a marker's first character: the text reads the same to a person, but
# no longer matches the special token, so the tokenizer spells it out as plain text.
_BREAK = "\u200b"


def _defuse(token: str) -> str:
    return token[0] + _BREAK + token[1:]


def special_token_strings(tokenizer: Any) -> tuple[str, ...]:
    """The tokenizer's special tokens as text (bos, eos, pad, unk, chat markers and
    every added token marked special), longest first."""
    found: set[str] = set(getattr(tokenizer, "all_special_tokens", None) or ())
    added = getattr(tokenizer, "added_tokens_decoder", None) or {}
    found.update(str(t.content) for t in added.values() if getattr(t, "special", False))
    return tuple(sorted((t for t in found if len(t.strip()) >= 2), key=len, reverse=True))


def neutralise_control_tokens(text: str, tokenizer: Any = None) -> str:
    """``text`` with every chat-template control token broken up, so text a person wrote
    (a brief, a brand voice, an example) cannot open or close a turn: ``<|im_end|>`` in
    a brief reaches the model as the characters, not as the token that ends the turn.

    Covers the tokenizer's own special tokens when one is given, and any ``<|…|>``
    marker. Idempotent."""
    for token in special_token_strings(tokenizer) if tokenizer is not None else ():
        if token in text:
            text = text.replace(token, _defuse(token))
    return _MARKER.sub(lambda m: _defuse(m.group()), text)


def target_tokens_for(target_words: int, *, language: str = DEFAULT_LANGUAGE) -> int:
    """Tokens of a draft of ``target_words`` (in the language's unit): where a row starts
    looking for the end of its sentence (see generation.endings)."""
    return max(1, int(target_words * get_language(language).tokens_per_unit))


def max_new_tokens_for(target_words: int, *, cap: int | None = None,
                       language: str = DEFAULT_LANGUAGE) -> int:
    """Generation budget in tokens for a target length in the language's unit (words,
    or characters for Chinese)."""
    per_unit = get_language(language).tokens_per_unit
    tokens = int(target_words * per_unit * LENGTH_MARGIN) + 16
    return min(tokens, cap) if cap else tokens


def words_for_tokens(max_new_tokens: int, *, language: str = DEFAULT_LANGUAGE) -> int:
    """The longest target length (in the language's unit) whose budget fits in
    ``max_new_tokens``: the inverse of :func:`max_new_tokens_for`."""
    per_unit = get_language(language).tokens_per_unit
    return max(1, int((max_new_tokens - 16) / (per_unit * LENGTH_MARGIN)))


def system_message(voice: ProjectVoice, language: str = DEFAULT_LANGUAGE) -> str:
    """The system message in the content language: writer role, brand voice, style
    rules and banned terms."""
    text = get_language(language).prompt
    parts = [text.system_role]
    if voice.brand_voice.strip():
        parts.append(text.brand_voice.format(voice.brand_voice.strip()))
    if voice.must:
        parts.append(text.always + "\n" + "\n".join(f"- {rule}" for rule in voice.must))
    if voice.must_not:
        parts.append(text.never + "\n" + "\n".join(f"- {rule}" for rule in voice.must_not))
    if voice.banned_terms:
        parts.append(text.banned_terms.format(text.list_separator.join(voice.banned_terms)))
    return "\n\n".join(parts)


def user_message(
    brief: BriefInput, source_text: str | None = None, knowledge: Sequence[str] = ()
) -> str:
    """The user message for one brief, in its language (``source_text`` overrides the
    brief's, for trimming), with the ``knowledge`` passages under "Facts you may use"."""
    template = get_template(brief.kind)
    template.validate(brief)
    text = get_language(brief.language).prompt
    lines = template.task(brief)
    if brief.audience.strip():
        lines.append(text.audience.format(brief.audience.strip()))
    if brief.tone.strip():
        lines.append(text.tone.format(brief.tone.strip()))
    keywords = [k.strip() for k in brief.keywords if k.strip()]
    if keywords:
        lines.append(text.keywords.format(text.list_separator.join(keywords)))
    if brief.instructions.strip():
        lines.append(text.instructions.format(brief.instructions.strip()))
    facts = [" ".join(p.split()) for p in knowledge if p.strip()]
    if facts:
        lines.append(KNOWLEDGE_HEADING + "\n" + "\n".join(f"- {fact}" for fact in facts))
    source = brief.source_text if source_text is None else source_text
    if source.strip():
        lines.append(text.source_text.format(source.strip()))
    return "\n".join(lines)


def build_prompt(
    brief: BriefInput,
    voice: ProjectVoice,
    tokenizer: Any,
    *,
    context_window: int,
    max_new_tokens: int | None = None,
    examples: Sequence[FewShotExample] = (),
    max_examples: int = 3,
    knowledge: Sequence[str] = (),
) -> BuiltPrompt:
    """Build the chat prompt for ``brief`` with the tokenizer's chat template, with the
    ``knowledge`` passages (best first) as facts the draft may use.

    The prompt is in the brief's language. Examples of another kind are ignored.
    Raises UnknownKindError, UnknownLanguageError, MissingFieldError or
    PromptTooLongError.
    """
    new_tokens = max_new_tokens or max_new_tokens_for(brief.target_words,
                                                      language=brief.language)
    budget = context_window - new_tokens
    system = system_message(voice, brief.language)
    shots = [e for e in examples if e.brief.kind == brief.kind][:max_examples]
    shot_turns = [(user_message(e.brief), e.text.strip()) for e in shots]
    # Defused before trimming, so the source is cut at plain-text token boundaries.
    source = neutralise_control_tokens(brief.source_text.strip(), tokenizer)
    trimmed = False

    passages = list(knowledge)
    n_facts = len(passages)

    def render(n_shots: int, source_text: str) -> tuple[list[dict[str, str]], str, int]:
        messages = [{"role": "system", "content": system}]
        for user, assistant in shot_turns[:n_shots]:
            messages += [{"role": "user", "content": user},
                         {"role": "assistant", "content": assistant}]
        messages.append({"role": "user",
                         "content": user_message(brief, source_text, passages[:n_facts])})
        # Every content is people's text (brief, voice, rules, approved examples,
        # knowledge) in our own frame, which has no markers: only the chat template may
        # add turns.
        messages = [{"role": m["role"], "content": neutralise_control_tokens(m["content"],
                                                                              tokenizer)}
                    for m in messages]
        text = render_chat(tokenizer, messages)
        return messages, text, len(tokenizer(text, add_special_tokens=False).input_ids)

    n_shots = len(shot_turns)
    messages, text, count = render(n_shots, source)
    while count > budget and n_shots > 0:
        n_shots -= 1
        messages, text, count = render(n_shots, source)
    while count > budget and n_facts > 0:
        n_facts -= 1
        messages, text, count = render(0, source)
    if count > budget and source:
        source_ids = tokenizer(source, add_special_tokens=False).input_ids
        _, _, without_source = render(0, TRIM_MARK.strip())
        keep = min(len(source_ids), budget - without_source - 8)
        while keep > 0:
            cut = tokenizer.decode(source_ids[:keep]).rstrip() + TRIM_MARK
            messages, text, count = render(0, cut)
            if count <= budget:
                trimmed = True
                break
            keep -= max(1, count - budget)
        if not trimmed:
            messages, text, count = render(0, TRIM_MARK.strip())
            trimmed = True
    if count > budget:
        raise PromptTooLongError(
            f"{brief.kind} brief {brief.title[:60]!r}: the instructions alone need {count} "
            f"tokens but only {budget} are left ({context_window} context - {new_tokens} "
            "for the answer); shorten the instructions or the target length"
        )
    return BuiltPrompt(
        kind=brief.kind,
        messages=tuple(messages),
        text=text,
        token_count=count,
        max_new_tokens=new_tokens,
        examples_used=n_shots,
        examples_dropped=len(shot_turns) - n_shots,
        source_trimmed=trimmed,
        knowledge_used=n_facts,
    )


def render_chat(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    """Apply the chat template; models without a system role get it merged into the
    first user turn."""
    try:
        return str(tokenizer.apply_chat_template(messages, tokenize=False,
                                                 add_generation_prompt=True))
    except Exception as exc:  # jinja raises TemplateError for "system role not supported"
        if messages[0]["role"] != "system" or "system" not in str(exc).lower():
            raise
        merged = [{"role": "user", "content": messages[0]["content"] + "\n\n"
                   + messages[1]["content"]}] + messages[2:]
        return str(tokenizer.apply_chat_template(merged, tokenize=False,
                                                 add_generation_prompt=True))
