"""Losses shared by the strategies: classification, gradient reversal, and domain alignment (DANN, CDAN, MMD, CORAL).

Every alignment loss takes head-input features of a source and a target batch (and, for CDAN, the logits) and
returns ``(loss, logs)``. The strength schedule comes from training progress, never from a hidden counter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy in float32 (stable under mixed precision)."""
    return F.cross_entropy(logits.float(), labels, weight=weight)


def ganin_schedule(progress: float, gamma: float = 10.0) -> float:
    """Ganin et al. (2016): 2 / (1 + exp(-gamma p)) - 1, rising from 0 to ~1 over training progress p in [0, 1]."""
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


class _GradientReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, coeff: float) -> torch.Tensor:
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.coeff * grad, None


def grad_reverse(x: torch.Tensor, coeff: float = 1.0) -> torch.Tensor:
    """Identity forward; multiplies the gradient by ``-coeff`` backward."""
    return _GradientReverse.apply(x, coeff)


class DomainDiscriminator(nn.Sequential):
    """MLP scoring "is this a source example" (one logit)."""

    def __init__(self, in_features: int, hidden: int = 1024) -> None:
        super().__init__(
            nn.Linear(in_features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, 1),
        )  # fmt: skip


def domain_adversarial_loss(
    discriminator: nn.Module,
    h_s: torch.Tensor,
    h_t: torch.Tensor,
    coeff: float,
    w_s: torch.Tensor | None = None,
    w_t: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """BCE of the discriminator on reversed-gradient inputs (source = 1, target = 0), optionally weighted."""
    scores = discriminator(grad_reverse(torch.cat([h_s, h_t]).float(), coeff)).squeeze(-1)
    labels = torch.cat([torch.ones(len(h_s)), torch.zeros(len(h_t))]).to(scores.device)
    weights = None if w_s is None else torch.cat([w_s, w_t]).to(scores.device)
    loss = F.binary_cross_entropy_with_logits(scores, labels, weight=weights)
    accuracy = ((scores > 0).float() == labels).float().mean()
    return loss, {"domain_accuracy": accuracy.detach()}


def dann_loss(discriminator: nn.Module, f_s, f_t, coeff: float):
    """DANN (Ganin et al., 2016): the discriminator sees the features through gradient reversal."""
    return domain_adversarial_loss(discriminator, f_s, f_t, coeff)


def multilinear_map(f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Flattened outer product f (x) g: [B, F] x [B, C] -> [B, F*C]."""
    return torch.bmm(g.unsqueeze(2), f.unsqueeze(1)).flatten(1)


class RandomizedMultilinearMap(nn.Module):
    """(f R_f) * (g R_g) / sqrt(d): a fixed random projection of the outer product for large F*C."""

    def __init__(self, features: int, classes: int, dim: int = 1024) -> None:
        super().__init__()
        self.dim = dim
        self.register_buffer("r_f", torch.randn(features, dim))
        self.register_buffer("r_g", torch.randn(classes, dim))

    def forward(self, f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return (f @ self.r_f) * (g @ self.r_g) / math.sqrt(self.dim)


def entropy(probs: torch.Tensor) -> torch.Tensor:
    return -(probs * torch.log(probs + 1e-5)).sum(dim=1)


def cdan_loss(
    discriminator: nn.Module,
    f_s,
    f_t,
    logits_s,
    logits_t,
    coeff: float,
    mapping: nn.Module | None = None,
    entropy_conditioning: bool = False,
):
    """CDAN (Long et al., 2018): discriminate f (x) softmax(g); CDAN+E weights easy (low-entropy) examples up."""
    g_s, g_t = F.softmax(logits_s.float(), dim=1).detach(), F.softmax(logits_t.float(), dim=1).detach()
    joint = mapping or multilinear_map
    h_s, h_t = joint(f_s.float(), g_s), joint(f_t.float(), g_t)
    w_s = w_t = None
    if entropy_conditioning:
        w_s, w_t = 1.0 + torch.exp(-entropy(g_s)), 1.0 + torch.exp(-entropy(g_t))
        w_s, w_t = w_s / w_s.sum() * len(w_s), w_t / w_t.sum() * len(w_t)
    return domain_adversarial_loss(discriminator, h_s, h_t, coeff, w_s, w_t)


def gaussian_mmd(f_s: torch.Tensor, f_t: torch.Tensor, multipliers: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0)):
    """Multi-kernel MMD^2 (Long et al., 2015): Gaussian kernels at multiples of the mean squared distance."""
    x = torch.cat([f_s, f_t]).float()
    d2 = torch.cdist(x, x).pow(2)
    n = len(x)
    base = d2.detach().sum() / (n * n - n)
    kernel = sum(torch.exp(-d2 / (base * m + 1e-8)) for m in multipliers) / len(multipliers)
    ns = len(f_s)
    k_ss, k_tt, k_st = kernel[:ns, :ns], kernel[ns:, ns:], kernel[:ns, ns:]
    loss = k_ss.mean() + k_tt.mean() - 2 * k_st.mean()
    return loss, {}


def coral(f_s: torch.Tensor, f_t: torch.Tensor):
    """Deep CORAL (Sun & Saenko, 2016): ||C_s - C_t||_F^2 / (4 d^2)."""
    f_s, f_t = f_s.float(), f_t.float()
    d = f_s.shape[1]
    c_s, c_t = torch.cov(f_s.T), torch.cov(f_t.T)
    return (c_s - c_t).pow(2).sum() / (4 * d * d), {}
