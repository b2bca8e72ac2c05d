"""The evaluate step end to end on a known pose perturbation, and the bootstrap intervals."""

import math

import numpy as np
import pytest
import torch

from common.config import compose_config
from common.io import load_npz, read_metrics, write_metrics
from papers.se3_registration import aggregate, evaluate, lie

PAPER = "se3_registration"
ANGLE_DEG, SHIFT_CM = 10.0, 1.5  # the perturbation: about the model's z axis, along its x axis
DELTA = lie.make_pose(
    lie.exp(torch.tensor([0.0, 0.0, math.radians(ANGLE_DEG), 0.0, 0.0, 0.0]).double())[:3, :3],
    torch.tensor([SHIFT_CM / 100, 0.0, 0.0]).double(),
)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from papers.se3_registration.data import main

    root = tmp_path_factory.mktemp("se3_eval_data")
    main(["scale=smoke", f"run.data_dir={root / 'bop'}", f"run.out_dir={root}"])
    return root


class Perturbed(torch.nn.Module):
    """A 'network' that returns the correction to H0 @ DELTA for each test instance, found by
    its observed cloud; the current pose is recovered from the moved model points."""

    def __init__(self, clouds: dict):
        super().__init__()
        self.clouds = clouds

    def forward(self, X_moved: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        out = []
        for xm, y in zip(X_moved.double(), Y, strict=True):
            X, H0 = self.clouds[y.numpy().tobytes()]
            a, b = X - X.mean(0), xm - xm.mean(0)
            U, _, Vt = torch.linalg.svd(b.T @ a)
            R = U @ torch.diag(torch.tensor([1, 1, torch.det(U @ Vt)]).double()) @ Vt
            H = lie.make_pose(R, xm.mean(0) - R @ X.mean(0))
            out.append(H0 @ DELTA @ lie.inverse(H))
        return torch.stack(out).float()


def test_known_perturbation_gives_known_errors_through_evaluate(data_dir, tmp_path, monkeypatch):
    clouds, real_sample = {}, evaluate.sample_clouds

    def sample(split, models, idx, *args):
        X, Y = real_sample(split, models, idx, *args)
        H0 = evaluate.poses(split, idx)
        clouds.update(
            {y.numpy().tobytes(): (x.double(), h) for x, y, h in zip(X, Y, H0, strict=True)}
        )
        return X, Y

    monkeypatch.setattr(evaluate, "sample_clouds", sample)
    monkeypatch.setattr(evaluate, "load_net", lambda cfg, path: Perturbed(clouds))
    run = tmp_path / "seed0"
    cfg = compose_config(PAPER, ["scale=smoke", f"run.data_dir={data_dir}", f"run.out_dir={run}"])
    metrics, arrays = evaluate.evaluate(cfg, run, data_dir)

    for name in ("dcp", "diff", "dcp_direct", "diff_s1_noise0"):
        np.testing.assert_allclose(arrays[f"{name}/rot_deg"], ANGLE_DEG, atol=1e-3)
        np.testing.assert_allclose(arrays[f"{name}/trans_cm"], SHIFT_CM, atol=1e-4)
    m = metrics
    assert m["dcp_recall_rot5"] == 0 and m["dcp_recall_rot20"] == 100
    assert m["dcp_recall_trans1"] == 0 and m["dcp_recall_trans2"] == 100
    assert m["dcp_recall_trans2_released_sq"] == 0  # 1.5 cm squared is 2.25 > 2
    models = load_npz(data_dir / "models.npz")
    P = torch.from_numpy(models["points"][arrays["obj"]].astype(np.float64))
    expected_add = (lie.transform(DELTA, P) - P).norm(dim=-1).mean(-1).numpy()
    np.testing.assert_allclose(arrays["dcp/add_m"], expected_add, rtol=1e-4)
    # the oracle removes half of the error in one call from the identity
    np.testing.assert_allclose(
        arrays["oracle1/rot_deg"], arrays["identity/rot_deg"] / 2, rtol=1e-6, atol=1e-6
    )
    assert m["dcp_chain1_over_direct_rot_median"] == pytest.approx(1, abs=1e-4)
    assert m["oracle_steps_rot_median_change_deg"] < 0 < m["frozen_steps_rot_median_change_deg"]


def test_bootstrap_intervals_cover_the_values_and_pair_the_methods(tmp_path):
    rng = np.random.default_rng(0)
    start = rng.uniform(10, 60, 400)
    errors = []
    for _ in range(2):
        dcp = start * rng.uniform(0.2, 0.6, 400)
        e = {"identity/rot_deg": start, "dcp/rot_deg": dcp, "diff_s1_noise1/rot_deg": dcp}
        errors.append(e | {"diff/rot_deg": dcp / 2})  # halves every error: reduction 0.5
    ci = aggregate.bootstrap(errors)
    assert ci["diff_vs_dcp_rot_median_reduction_ci95"] == pytest.approx([0.5, 0.5])  # paired
    assert ci["diff1_over_dcp_rot_median_ci95"] == pytest.approx([1, 1])
    low, high = ci["dcp_over_identity_rot_median_ci95"]
    value = np.mean([np.median(e["dcp/rot_deg"]) / np.median(start) for e in errors])
    assert low < value < high and high - low < 0.2
    errors[1] = {k: v[:10] for k, v in errors[1].items()}
    with pytest.raises(ValueError, match="different numbers"):
        aggregate.bootstrap(errors)


def test_aggregate_script_writes_lists_and_intervals(tmp_path):
    for seed in (0, 1):
        run = tmp_path / f"seed{seed}"
        run.mkdir()
        write_metrics(run / "metrics.json", {"x": seed}, {})
        n = 20
        arrays = {f"{k}/rot_deg": np.full(n, 10.0 + seed) for k in aggregate.METHODS}
        np.savez(run / "errors.npz", **arrays)
    out = tmp_path / "metrics.json"
    aggregate.main(["--out", str(out), *(str(tmp_path / f"seed{s}/metrics.json") for s in (0, 1))])
    metrics = read_metrics(out)[0]
    assert metrics["x"] == [0.0, 1.0] and len(metrics["diff_minus_dcp_recall_rot5_ci95"]) == 2
