"""The base class of every recipe section (kept apart so strategy configs can use it without cycles)."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Unknown keys are errors; values are coerced by annotation (YAML's ``2e-5`` string becomes a float)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
