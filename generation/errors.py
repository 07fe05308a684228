"""Typed errors raised by the generation library.

Every error a caller can fix (a bad spec, a missing folder, a tampered adapter, a brief
that does not fit) has its own class, so the Celery tasks can map it to a message for
the user instead of a stack trace. All of them derive from :class:`GenerationError`.
"""

from __future__ import annotations


class GenerationError(Exception):
    """Base class of every error raised on purpose by ``generation``."""


class ModelSpecError(GenerationError, ValueError):
    """A model spec string could not be parsed or names an unknown source or model."""


class ModelNotFoundError(GenerationError):
    """The model named by a spec is not there: missing folder, package not installed,
    or a Hugging Face model that is not cached while offline."""


class ModelLoadError(GenerationError):
    """A model folder exists but cannot be loaded (corrupt or incomplete files)."""


class AdapterError(GenerationError):
    """Base class of LoRA adapter problems."""


class UnsafeAdapterError(AdapterError):
    """The adapter folder holds pickle-based files (.bin, .pt, .pkl...), which are
    never loaded because unpickling runs arbitrary code."""


class AdapterChecksumError(AdapterError):
    """The adapter's config and weights files do not match the checksum recorded for
    them (tampered or replaced files), or the record is a legacy weights-only checksum
    that cannot vouch for the config."""


class EngineStateError(GenerationError):
    """The loaded base model could not be brought back to its plain state after an
    adapter failed (see ``generation.adapters.AdapterCache``): it must be loaded again.
    Not the fault of any one request."""


class PromptError(GenerationError, ValueError):
    """Base class of problems building a prompt from a brief."""


class UnknownKindError(PromptError):
    """The content kind has no registered template."""


class UnknownLanguageError(PromptError):
    """The content language is not registered (``generation.languages``)."""


class MissingFieldError(PromptError):
    """A field the content kind requires is empty or missing."""


class PromptTooLongError(PromptError):
    """The brief's instructions alone do not fit the model's context window minus the
    generation budget (examples and source text have already been trimmed)."""


class RequestError(GenerationError, ValueError):
    """A generation request is invalid (variant count out of range, bad sampling
    parameters...)."""
