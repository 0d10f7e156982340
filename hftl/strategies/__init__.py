"""Transfer strategies. Importing this package registers every built-in strategy."""

from hftl.strategies import adversarial, finetune, frozen, surgery  # noqa: F401  (registration side effect)
from hftl.strategies.base import Strategy, StrategyConfig, SupervisedStrategy
from hftl.strategies.registry import names, register

__all__ = ["Strategy", "StrategyConfig", "SupervisedStrategy", "names", "register"]
