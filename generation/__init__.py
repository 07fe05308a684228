"""Content Studio's model library: model loading, prompts, batched generation, checks.

Plain Python with dataclasses in and out; no Django. Importing this package is cheap
(no torch): heavy modules (``generation.models``, ``generation.engine``) import torch
and transformers inside their functions.

Map: ``specs`` (parse_model_spec), ``models`` (resolve_model_dir, load_base),
``adapters`` (AdapterRef, adapter_sha256), ``prompts`` (BriefInput, ProjectVoice,
FewShotExample, KINDS, build_prompt), ``engine`` (Engine, GenerationRequest,
SamplingParams, GenerationResult, DraftOutput), ``checks`` (QualityFlag, check_draft,
ReferenceCorpus), ``errors`` (GenerationError and subclasses), ``bench``.
"""

from generation.errors import GenerationError
from generation.specs import DEFAULT_MODEL_SPEC, ModelSpec, parse_model_spec

__all__ = ["DEFAULT_MODEL_SPEC", "GenerationError", "ModelSpec", "parse_model_spec"]
