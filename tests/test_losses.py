"""Each alignment loss against a hand-written reference, and gradient reversal in both directions."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from hftl import losses


def test_gradient_reversal_is_identity_forward_and_negated_backward():
    x = torch.randn(4, 3, requires_grad=True)
    y = losses.grad_reverse(x, 0.7)
    assert torch.equal(y, x)
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.full_like(x, -0.7))
    z = torch.randn(4, 3, requires_grad=True)
    losses.grad_reverse(losses.grad_reverse(z, 2.0), 0.5).mul(3).sum().backward()
    torch.testing.assert_close(z.grad, torch.full_like(z, 3.0))  # two reversals cancel: (-2)(-0.5)(3)


def test_ganin_schedule():
    assert losses.ganin_schedule(0.0) == 0.0
    assert losses.ganin_schedule(1.0, 10) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert losses.ganin_schedule(0.5, 10) == pytest.approx(0.986614, abs=1e-6)


def test_dann_loss_is_bce_of_the_discriminator_and_reverses_feature_gradients():
    torch.manual_seed(0)
    disc = torch.nn.Linear(5, 1)
    f_s, f_t = torch.randn(6, 5, requires_grad=True), torch.randn(4, 5, requires_grad=True)
    loss, logs = losses.dann_loss(disc, f_s, f_t, coeff=0.3)
    scores = disc(torch.cat([f_s, f_t])).squeeze(-1)
    labels = torch.tensor([1.0] * 6 + [0.0] * 4)
    reference = -(labels * F.logsigmoid(scores) + (1 - labels) * F.logsigmoid(-scores)).mean()
    torch.testing.assert_close(loss, reference)
    assert logs["domain_accuracy"] == ((scores > 0).float() == labels).float().mean()
    (grad_features,) = torch.autograd.grad(reference, f_s, retain_graph=True)
    loss.backward()
    torch.testing.assert_close(f_s.grad, -0.3 * grad_features)


def test_cdan_uses_the_outer_product_and_entropy_weights():
    torch.manual_seed(0)
    f_s, f_t = torch.randn(3, 4), torch.randn(3, 4)
    g_s, g_t = torch.randn(3, 2), torch.randn(3, 2)
    disc = torch.nn.Linear(8, 1)
    loss, _ = losses.cdan_loss(disc, f_s, f_t, g_s, g_t, 1.0, entropy_conditioning=True)
    p_s, p_t = g_s.softmax(1), g_t.softmax(1)
    h = torch.cat([torch.einsum("bc,bf->bcf", p, f).reshape(3, 8) for p, f in ((p_s, f_s), (p_t, f_t))])
    ent = lambda p: -(p * torch.log(p + 1e-5)).sum(1)  # noqa: E731
    w = [1 + torch.exp(-ent(p)) for p in (p_s, p_t)]
    w = torch.cat([x / x.sum() * 3 for x in w])
    scores = disc(h).squeeze(-1)
    labels = torch.tensor([1.0] * 3 + [0.0] * 3)
    reference = F.binary_cross_entropy_with_logits(scores, labels, weight=w)
    torch.testing.assert_close(loss, reference)


def test_randomized_map_shape_and_scale():
    mapping = losses.RandomizedMultilinearMap(4, 3, dim=16)
    f, g = torch.randn(5, 4), torch.randn(5, 3)
    torch.testing.assert_close(mapping(f, g), (f @ mapping.r_f) * (g @ mapping.r_g) / 4.0)


def test_mmd_matches_a_loop_reference_and_vanishes_for_identical_sets():
    torch.manual_seed(0)
    f_s, f_t = torch.randn(5, 3), torch.randn(4, 3) + 1.0
    loss, _ = losses.gaussian_mmd(f_s, f_t, [0.5, 1.0, 2.0])
    x = torch.cat([f_s, f_t])
    n = len(x)
    d2 = [[float(((x[i] - x[j]) ** 2).sum()) for j in range(n)] for i in range(n)]
    base = sum(map(sum, d2)) / (n * n - n)

    def k(i, j):
        return sum(math.exp(-d2[i][j] / (base * m)) for m in (0.5, 1.0, 2.0)) / 3

    ss = sum(k(i, j) for i in range(5) for j in range(5)) / 25
    tt = sum(k(i, j) for i in range(5, 9) for j in range(5, 9)) / 16
    st = sum(k(i, j) for i in range(5) for j in range(5, 9)) / 20
    assert float(loss) == pytest.approx(ss + tt - 2 * st, rel=1e-4)
    same, _ = losses.gaussian_mmd(f_s, f_s.clone())
    assert float(same) == pytest.approx(0.0, abs=1e-6)


def test_coral_matches_covariance_formula():
    torch.manual_seed(0)
    f_s, f_t = torch.randn(8, 3), torch.randn(6, 3) * 2

    def cov(x):
        centered = x - x.mean(0)
        return centered.T @ centered / (len(x) - 1)

    loss, _ = losses.coral(f_s, f_t)
    torch.testing.assert_close(loss, ((cov(f_s) - cov(f_t)) ** 2).sum() / (4 * 9))
