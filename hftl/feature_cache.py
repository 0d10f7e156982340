"""Encoder features computed once per split: kept in memory and on disk, keyed by what determines them."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def default_cache_dir() -> Path:
    hf_home = os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface"
    return Path(hf_home) / "hftl" / "features"


class FeatureCache:
    """``get(key_parts, compute)`` returns cached tensors or computes, stores and returns them."""

    def __init__(self, directory: str | Path | None = None, enabled: bool = True, is_writer: bool = True) -> None:
        self.directory = Path(directory) if directory else default_cache_dir()
        self.enabled = enabled
        self.is_writer = is_writer
        self._memory: dict[str, dict[str, torch.Tensor]] = {}
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(parts: dict[str, object]) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.safetensors"

    def get(self, parts: dict[str, object], compute: Callable[[], dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        key = self.key(parts)
        if key in self._memory:
            self.hits += 1
            return self._memory[key]
        path = self.path(key)
        if self.enabled and path.is_file():
            self.hits += 1
            tensors = load_file(path)
        else:
            self.misses += 1
            tensors = {name: t.contiguous() for name, t in compute().items()}
            if self.enabled and self.is_writer:
                self._write(path, tensors, parts)
        self._memory[key] = tensors
        return tensors

    def _write(self, path: Path, tensors: dict[str, torch.Tensor], parts: dict[str, object]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        save_file(tensors, str(tmp), metadata={k: str(v) for k, v in parts.items()})
        tmp.replace(path)
