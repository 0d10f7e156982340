"""Strategies registered by name: each owns a typed config class and a Strategy class."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field

from hftl.errors import RecipeError, did_you_mean

if TYPE_CHECKING:
    from hftl.strategies.base import Strategy, StrategyConfig

_REGISTRY: dict[str, tuple[type[StrategyConfig], type[Strategy]]] = {}


def register(config_cls: type[StrategyConfig]):
    """Class decorator: ``@register(FrozenConfig) class FrozenStrategy(Strategy)``."""

    def wrap(strategy_cls: type[Strategy]) -> type[Strategy]:
        name = config_cls.model_fields["name"].default
        _REGISTRY[name] = (config_cls, strategy_cls)
        strategy_cls.config_class = config_cls
        return strategy_cls

    return wrap


def names() -> list[str]:
    return list(_REGISTRY)


def _lookup(name: str) -> tuple[type[StrategyConfig], type[Strategy]]:
    if name not in _REGISTRY:
        hint = did_you_mean(name, _REGISTRY)
        raise RecipeError("strategy.name", f"unknown strategy '{name}'{hint} (allowed: {', '.join(_REGISTRY)})")
    return _REGISTRY[name]


def config_class(name: str) -> type[StrategyConfig]:
    return _lookup(name)[0]


def strategy_class(name: str) -> type[Strategy]:
    return _lookup(name)[1]


def config_union() -> Any:
    """A pydantic tagged union of every registered config, discriminated by ``name``."""
    configs = tuple(cfg for cfg, _ in _REGISTRY.values())
    if len(configs) == 1:
        return configs[0]
    return Annotated[Union[configs], Field(discriminator="name")]  # noqa: UP007
