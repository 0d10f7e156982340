"""hftl: transfer learning for pretrained Hugging Face models, from a labeled source to a target domain."""

from hftl.errors import RecipeError
from hftl.recipe import Recipe, load_recipe, parse_recipe

__version__ = "0.1.0"

__all__ = ["Recipe", "RecipeError", "__version__", "load_recipe", "parse_recipe", "train", "validate"]


def train(recipe: Recipe, resume: bool = False, overwrite: bool = False) -> dict[str, float]:
    """Run a recipe (see ``hftl.run.train``)."""
    from hftl.run import train as run_train

    return run_train(recipe, resume=resume, overwrite=overwrite)


def validate(recipe: Recipe) -> dict:
    """Check a recipe without training (see ``hftl.run.validate``)."""
    from hftl.run import validate as run_validate

    return run_validate(recipe)
