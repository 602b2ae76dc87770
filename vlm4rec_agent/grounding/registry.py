"""Grounders by name. ``VLM4REC_GROUNDER`` picks one: ``basic``, ``transformers``, ``openai``,
or a plugin's (entry-point group ``vlm4rec.grounders``, see :mod:`vlm4rec_agent.plugins`).

Every grounder but the basic one, plugins included, is wrapped twice: by the on-disk cache
(unless ``VLM4REC_GROUNDING_CACHE`` is off; its key holds the grounder's name, model id and
prompt version, so a plugin that changes what it answers changes its ``prompt_version``), and,
when ``VLM4REC_GROUNDER_FALLBACK`` allows it, by the fallback to the basic grounder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..plugins import GROUNDERS_GROUP, Registry
from ..settings import Settings
from .protocol import BaseGrounder, Grounder, GrounderUnavailable, GroundingFailure, GroundingInput

GrounderFactory = Callable[[Settings], Grounder]
GROUNDERS = Registry(
    "grounder",
    GROUNDERS_GROUP,
    "VLM4REC_GROUNDER (or --grounder)",
    ("name", "model_id", "prompt_version", "ground", "lookup", "close"),
)


def register_grounder(name: str, factory: GrounderFactory) -> None:
    GROUNDERS.register(name, factory)


def available_grounders() -> list[str]:
    """Every grounder that can be chosen, plugins included."""
    return GROUNDERS.names()


class _Unusable(BaseGrounder):
    """Stands for a VLM grounder that could not even be built: every input fails, saying why."""

    def __init__(self, name: str, model_id: str, error: GrounderUnavailable):
        self.name, self.model_id, self.prompt_version = name, model_id, "-"
        self.failure = GroundingFailure.from_error(error)

    def ground(self, inputs: Sequence[GroundingInput]) -> list[GroundingFailure]:
        return [self.failure] * len(inputs)


def make_grounder(settings: Settings) -> Grounder:
    part = GROUNDERS.require(settings.grounder)
    if settings.grounder == "basic":
        return GROUNDERS.build(part, settings)
    try:
        grounder = GROUNDERS.build(part, settings)
    except GrounderUnavailable as error:
        if not settings.grounder_fallback:
            raise
        grounder = _Unusable(settings.grounder, settings.vlm_model or "?", error)
    if settings.grounding_cache and not isinstance(grounder, _Unusable):
        from .cache import CachedGrounder, GroundingCache

        grounder = CachedGrounder(grounder, GroundingCache(settings.grounding_cache_path))
    if settings.grounder_fallback:
        from .vlm import FallbackGrounder

        grounder = FallbackGrounder(grounder, _basic(settings))
    return grounder


def _basic(settings: Settings) -> Grounder:
    from .basic import BasicGrounder

    return BasicGrounder()


def _transformers(settings: Settings) -> Grounder:
    from .prompt import load_prompt
    from .transformers_vlm import TransformersGrounder

    return TransformersGrounder(
        settings.vlm_model,
        load_prompt(settings.grounding_prompt),
        device=settings.vlm_device,
        dtype=settings.vlm_dtype,
        max_new_tokens=settings.vlm_max_new_tokens,
        batch_size=settings.grounding_batch_size,
        json_schema=settings.vlm_json_schema,
    )


def _openai(settings: Settings) -> Grounder:
    from .openai_api import OpenAIGrounder
    from .prompt import load_prompt

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return OpenAIGrounder(
        settings.openai_base_url,
        settings.vlm_model,
        load_prompt(settings.grounding_prompt),
        api_key=key,
        timeout=settings.openai_timeout,
        max_retries=settings.openai_max_retries,
        backoff=settings.openai_backoff,
        concurrency=settings.openai_concurrency,
        max_new_tokens=settings.vlm_max_new_tokens,
        json_schema=settings.openai_json_schema,
    )


register_grounder("basic", _basic)
register_grounder("transformers", _transformers)
register_grounder("openai", _openai)
