"""Training-time regularizers usable with any strategy: feature mixup and adversarial input-embedding perturbation."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from hftl.losses import classification_loss


def mixup_loss(
    head: Callable[[torch.Tensor], torch.Tensor],
    features: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mixup on head-input features (manifold mixup): lam*CE(y_i) + (1-lam)*CE(y_perm(i)), lam ~ Beta(a, a)."""
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(len(features), device=features.device)
    logits = head(lam * features + (1 - lam) * features[perm])
    return lam * classification_loss(logits, labels, weight) + (1 - lam) * classification_loss(
        logits, labels[perm], weight
    )


@contextmanager
def perturbed_embeddings(model: nn.Module, delta: torch.Tensor | None = None, captured: list | None = None):
    """Inside the block the input-embedding output is captured (``captured``) and/or shifted by ``delta``."""
    embeddings = model.get_input_embeddings()

    def hook(_module, _args, output):
        if captured is not None:
            captured.append(output)
        return output if delta is None else output + delta

    handle = embeddings.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _normalize(grad: torch.Tensor) -> torch.Tensor:
    return grad / (grad.flatten(1).norm(dim=1).view(-1, *([1] * (grad.ndim - 1))) + 1e-12)


def embedding_adversarial_loss(
    model: nn.Module,
    inputs: dict,
    labels: torch.Tensor,
    embedded: torch.Tensor,
    clean_logits: torch.Tensor,
    clean_loss: torch.Tensor,
    method: str,
    epsilon: float,
    weight: torch.Tensor | None = None,
    xi: float = 1e-6,
) -> torch.Tensor:
    """FGSM (Goodfellow et al., 2015) or VAT (Miyato et al., 2018) loss on perturbed input embeddings.

    ``embedded`` is the embedding output captured during the clean forward that gave ``clean_logits``.
    """
    if method == "fgsm":
        (grad,) = torch.autograd.grad(clean_loss, embedded, retain_graph=True)
        with perturbed_embeddings(model, (epsilon * grad.sign()).detach()):
            return classification_loss(model(**inputs).logits, labels, weight)
    clean = F.log_softmax(clean_logits.detach().float(), dim=-1)
    probe = (xi * _normalize(torch.randn_like(embedded))).requires_grad_()
    with perturbed_embeddings(model, probe):
        divergence = F.kl_div(F.log_softmax(model(**inputs).logits.float(), -1), clean, log_target=True,
                              reduction="batchmean")  # fmt: skip
    (grad,) = torch.autograd.grad(divergence, probe)
    with perturbed_embeddings(model, (epsilon * _normalize(grad)).detach()):
        adv = F.log_softmax(model(**inputs).logits.float(), -1)
    return F.kl_div(adv, clean, log_target=True, reduction="batchmean")
