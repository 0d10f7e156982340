"""The one user-facing error type: a field path and what is allowed."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable


class RecipeError(ValueError):
    """Bad user input. The CLI prints ``error: <field>: <message>`` and exits with code 2."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """A ``"; did you mean 'x'?"`` suffix for near misses, or an empty string."""
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. a non-finite loss). The CLI prints ``error: <message>`` and exits with code 1."""


#: Environment variables whose values are credentials (never printed, whatever an exception says).
SECRET_ENV_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN", "WANDB_API_KEY", "COMET_API_KEY",
                   "MLFLOW_TRACKING_PASSWORD", "NEPTUNE_API_TOKEN")  # fmt: skip
HF_TOKEN_PATTERN = re.compile(r"\bhf_[A-Za-z0-9]{20,}\b")


def redact(text: str) -> str:
    """``text`` with Hugging Face tokens and the values of credential environment variables replaced by ***."""
    for name in SECRET_ENV_VARS:
        value = os.environ.get(name)
        if value and len(value) >= 8:
            text = text.replace(value, "***")
    return HF_TOKEN_PATTERN.sub("hf_***", text)
