"""The k-shot linear probes (core.experiments.transfer) against hand-computed facts."""
import numpy as np
import pytest
import torch

from core.experiments import transfer
from core.models import build_embedded


def test_the_ridge_fit_is_the_closed_form_least_squares_solution():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 30, generator=g, dtype=torch.float64)
    labels = torch.arange(12) % 3
    mean, w, lam = transfer.fit_ridge(x, labels, 3, penalties=(0.5,))
    # primal form, written out with numpy: (Xc^T Xc + lambda I) W = Xc^T T, targets +-1 centred
    xc = (x - x.mean(0)).numpy()
    t = -np.ones((12, 3))
    t[np.arange(12), labels.numpy()] = 1
    t -= t.mean(0)
    expected = np.linalg.solve(xc.T @ xc + 0.5 * np.eye(30), xc.T @ t)
    assert lam == 0.5 and np.allclose(w.numpy(), expected) and torch.allclose(mean, x.mean(0))


def test_the_penalty_is_picked_by_leave_one_out_error():
    # two clusters in 2-D far apart plus noise dimensions: a small penalty fits, a huge one predicts the mean
    g = torch.Generator().manual_seed(1)
    centres = torch.tensor([[5.0, 0.0], [-5.0, 0.0]], dtype=torch.float64)
    labels = torch.arange(20) % 2
    x = centres[labels] + 0.1 * torch.randn(20, 2, generator=g, dtype=torch.float64)
    _, _, lam = transfer.fit_ridge(x, labels, 2, penalties=(1e-2, 1e6))
    assert lam == 1e-2


def test_separable_features_are_probed_perfectly_and_support_sets_are_balanced():
    labels = torch.arange(50) % 5
    g = torch.Generator().manual_seed(2)
    idx = transfer.draw_support(labels, 3, 5, g)
    assert sorted(np.bincount(labels[idx].numpy()).tolist()) == [3] * 5 and len(set(idx.tolist())) == 15
    x = torch.nn.functional.one_hot(labels, 5).double() + 0.01 * torch.randn(50, 5, generator=g, dtype=torch.float64)
    fit = transfer.fit_ridge(x[idx], labels[idx], 5)
    assert torch.equal(transfer.predict(fit, x), labels)


@pytest.mark.parametrize("arch", ["resnet", "vit"])
def test_the_few_shot_probe_changes_no_weight_of_the_backbone(arch):
    torch.manual_seed(0)
    net = build_embedded(arch, 10).train()  # left in training mode: batch norm would update if it ran so
    before = {k: v.clone() for k, v in net.state_dict().items()}
    data = tuple(t[:n] for t, n in zip(transfer.target_images(), (50, 50, 40, 40)))
    out = transfer.few_shot(net, shots=(2, 5), draws=2, data=data)
    assert set(out) == {"transfer_2shot", "transfer_5shot"} and all(0 <= v <= 1 for v in out.values())
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # buffers (running means, counts) included
    assert net.training  # handed back in the mode it came in


def test_the_target_images_are_the_five_new_shapes_and_balanced():
    sx, sy, qx, qy = transfer.target_images()
    assert sx.shape[0] == transfer.SUPPORT_POOL and qx.shape[0] == transfer.QUERY_SIZE and sx.dtype == torch.uint8
    assert np.bincount(sy.numpy()).tolist() == [transfer.SUPPORT_POOL // 5] * 5
    assert not torch.equal(sx[:5], qx[:5])
