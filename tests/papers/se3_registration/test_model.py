"""The surrogate's Procrustes head, its output and the metrics."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from papers.se3_registration import lie, metrics
from papers.se3_registration.model import Surrogate, denoiser, weighted_procrustes


def test_weighted_procrustes_recovers_a_rigid_transform():
    g = torch.Generator().manual_seed(0)
    H = lie.exp(torch.tensor([[0.5, -0.3, 1.0, 0.1, -0.2, 0.05]], dtype=torch.float64)).float()
    src = torch.randn(1, 50, 3, generator=g)
    dst = lie.transform(H, src)
    dst[:, :10] += 5.0  # outliers, given zero weight
    w = torch.ones(1, 50)
    w[:, :10] = 0
    est = weighted_procrustes(src, dst, w / w.sum())
    assert (est - H).abs().max() < 1e-4


def test_surrogate_outputs_rigid_transforms_and_gradients():
    torch.manual_seed(0)
    net = Surrogate(width=16, k=4, heads=4, length_scale=0.1)
    X, Y = torch.randn(3, 20, 3) * 0.05, torch.randn(3, 12, 3) * 0.05
    H_t = lie.exp(torch.randn(3, 6, dtype=torch.float64) * 0.1)
    H0hat = denoiser(net, X, Y)(H_t, 10)
    R = H0hat[:, :3, :3]
    assert H0hat.dtype == torch.float64
    assert torch.allclose(
        R @ R.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(3, 3, 3), atol=1e-5
    )
    assert torch.allclose(torch.linalg.det(R), torch.ones(3, dtype=torch.float64), atol=1e-5)
    H0hat[:, :3, 3].sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_recall_scaling_and_released_squared_criterion():
    ec = SimpleNamespace(rot_deg=[5.0], trans_cm=[1.0, 2.0], ref_diameter_mm=200.0, add_frac=0.1)
    rot = np.array([1.0, 4.0, 6.0, 30.0])
    trans = np.array([0.5, 1.3, 1.6, 3.0])  # cm
    add = np.array([0.001, 0.005, 0.03, 0.05])  # m
    out = metrics.summarise("m", rot, trans, add, np.full(4, 0.2), ec)  # diameter = reference
    assert out["m_recall_rot5"] == 50.0
    assert out["m_recall_trans2"] == 75.0  # proper L2: 0.5, 1.3, 1.6 < 2
    assert out["m_recall_trans2_released_sq"] == 50.0  # squared: 0.25, 1.69 < 2; 2.56 is not
    assert out["m_add"] == 50.0  # < 0.02 m
    small = metrics.summarise("m", rot, trans, add, np.full(4, 0.1), ec)  # half-size objects
    assert small["m_recall_trans2"] == 75.0  # the paper's absolute cm do not depend on size
    assert small["m_recall_trans2_scaled"] == 25.0  # scaled thresholds halve: only 0.5 < 1
    assert out["m_recall_trans2_scaled"] == out["m_recall_trans2"]  # reference-size objects


def test_rotation_and_add_errors():
    H0 = lie.identity(2)
    H = lie.exp(
        torch.tensor([[0, 0, np.radians(10), 0, 0, 0], [0, 0, 0, 0.01, 0, 0]], dtype=torch.float64)
    )
    np.testing.assert_allclose(metrics.rotation_error_deg(H, H0), [10, 0], atol=1e-9)
    np.testing.assert_allclose(metrics.translation_error_cm(H, H0), [0, 1], atol=1e-9)
    pts = np.random.default_rng(0).normal(size=(2, 100, 3)) * 0.05
    add = metrics.add_error(H, H0, pts, np.array([False, True]))
    assert add[1] < 0.01 and add[0] > 0  # ADD-S <= ADD for the shifted copy


def test_add_s_averages_over_the_model_under_the_true_pose():
    """ADD-S (BOP): mean over the model points under the TRUE pose of the distance to the
    nearest point under the predicted pose; the reverse direction gives another number here."""
    rng = np.random.default_rng(1)
    pts = np.concatenate([rng.normal(size=(45, 3)) * 0.01, rng.normal(size=(5, 3)) * 0.2])
    H = lie.exp(torch.tensor([[0.4, -0.2, 0.3, 0.02, 0.0, -0.01]], dtype=torch.float64))
    H0 = lie.identity(1)
    pred, true = lie.transform(H, torch.from_numpy(pts))[0].numpy(), pts
    dist = np.linalg.norm(true[:, None] - pred[None], axis=-1)  # (true point, predicted point)
    standard, reverse = dist.min(1).mean(), dist.min(0).mean()
    assert abs(standard - reverse) > 1e-3  # the test can tell the two directions apart
    add_s = metrics.add_error(H, H0, pts[None], np.array([True]))
    np.testing.assert_allclose(add_s, [standard], rtol=1e-9)


@pytest.mark.parametrize("override", ["data.name=nope", "data.nme=1"])
def test_data_entry_point_bad_input_is_one_line(override, tmp_path, capsys):
    from papers.se3_registration.data import main

    with pytest.raises(SystemExit):
        main(["scale=smoke", override, f"run.out_dir={tmp_path}"])
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and not any(tmp_path.iterdir())
