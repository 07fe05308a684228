"""Prompts per content kind: brief dataclasses, kind metadata and the prompt builder.

``KINDS`` maps each kind to its :class:`KindSpec` (label, required and optional fields)
so the form layer can build its forms from it; ``build_prompt`` renders a brief with the
tokenizer's chat template and trims it to fit.
"""

from generation.prompts.builder import (
    build_prompt,
    max_new_tokens_for,
    neutralise_control_tokens,
    render_chat,
    system_message,
    target_tokens_for,
    user_message,
    words_for_tokens,
)
from generation.prompts.kinds import (
    COMMON_FIELDS,
    KINDS,
    MAX_TARGET_WORDS,
    KindTemplate,
    KindText,
    default_target,
    get_template,
    register_kind,
    unregister_kind,
)
from generation.prompts.types import (
    BriefInput,
    BuiltPrompt,
    FewShotExample,
    KindField,
    KindSpec,
    ProjectVoice,
)

__all__ = [
    "COMMON_FIELDS",
    "KINDS",
    "MAX_TARGET_WORDS",
    "BriefInput",
    "BuiltPrompt",
    "FewShotExample",
    "KindField",
    "KindSpec",
    "KindTemplate",
    "KindText",
    "ProjectVoice",
    "build_prompt",
    "default_target",
    "get_template",
    "max_new_tokens_for",
    "neutralise_control_tokens",
    "target_tokens_for",
    "words_for_tokens",
    "register_kind",
    "unregister_kind",
    "render_chat",
    "system_message",
    "user_message",
]
