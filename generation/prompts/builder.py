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

from collections.abc import Sequence
from typing import Any

from generation.errors import PromptTooLongError
from generation.prompts.kinds import get_template
from generation.prompts.types import BriefInput, BuiltPrompt, FewShotExample, ProjectVoice

TRIM_MARK = " [...]"
SYSTEM_ROLE = (
    "You are a professional writer for a content team. Follow the brief exactly, write "
    "only the requested text (no notes or explanations) and respect the brand rules."
)
# English BPE text averages ~1.3 tokens per word; the margin lets the model finish its
# last sentence instead of being cut at exactly the target length.
TOKENS_PER_WORD = 1.4
LENGTH_MARGIN = 1.25
KNOWLEDGE_HEADING = (
    "Facts you may use (from the project's knowledge; state no other prices, numbers, "
    "dates or offers):"
)


def target_tokens_for(target_words: int) -> int:
    """Tokens of a draft of ``target_words`` words: where a row starts looking for the
    end of its sentence (see generation.endings)."""
    return max(1, int(target_words * TOKENS_PER_WORD))


def max_new_tokens_for(target_words: int, *, cap: int | None = None) -> int:
    """Generation budget in tokens for a target length in words."""
    tokens = int(target_words * TOKENS_PER_WORD * LENGTH_MARGIN) + 16
    return min(tokens, cap) if cap else tokens


def words_for_tokens(max_new_tokens: int) -> int:
    """The longest target length (words) whose budget fits in ``max_new_tokens``: the
    inverse of :func:`max_new_tokens_for`."""
    return max(1, int((max_new_tokens - 16) / (TOKENS_PER_WORD * LENGTH_MARGIN)))


def system_message(voice: ProjectVoice) -> str:
    """The system message: writer role, brand voice, style rules and banned terms."""
    parts = [SYSTEM_ROLE]
    if voice.brand_voice.strip():
        parts.append(f"Brand voice: {voice.brand_voice.strip()}")
    if voice.must:
        parts.append("Always:\n" + "\n".join(f"- {rule}" for rule in voice.must))
    if voice.must_not:
        parts.append("Never:\n" + "\n".join(f"- {rule}" for rule in voice.must_not))
    if voice.banned_terms:
        parts.append("Never use these words: " + ", ".join(voice.banned_terms) + ".")
    return "\n\n".join(parts)


def user_message(
    brief: BriefInput, source_text: str | None = None, knowledge: Sequence[str] = ()
) -> str:
    """The user message for one brief (``source_text`` overrides the brief's, for
    trimming), with the ``knowledge`` passages under "Facts you may use"."""
    template = get_template(brief.kind)
    template.validate(brief)
    lines = template.task(brief)
    if brief.audience.strip():
        lines.append(f"Audience: {brief.audience.strip()}")
    if brief.tone.strip():
        lines.append(f"Tone: {brief.tone.strip()}")
    keywords = [k.strip() for k in brief.keywords if k.strip()]
    if keywords:
        lines.append("Include these keywords: " + ", ".join(keywords))
    if brief.instructions.strip():
        lines.append(f"Instructions: {brief.instructions.strip()}")
    facts = [" ".join(p.split()) for p in knowledge if p.strip()]
    if facts:
        lines.append(KNOWLEDGE_HEADING + "\n" + "\n".join(f"- {fact}" for fact in facts))
    source = brief.source_text if source_text is None else source_text
    if source.strip():
        lines.append(f"Source text:\n{source.strip()}")
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

    Examples of another kind are ignored. Raises UnknownKindError, MissingFieldError or
    PromptTooLongError.
    """
    new_tokens = max_new_tokens or max_new_tokens_for(brief.target_words)
    budget = context_window - new_tokens
    system = system_message(voice)
    shots = [e for e in examples if e.brief.kind == brief.kind][:max_examples]
    shot_turns = [(user_message(e.brief), e.text.strip()) for e in shots]
    source = brief.source_text.strip()
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
