"""Evaluate ICP, the surrogate alone (DCP), the diffusion (Diff-DCP), each + ICP, the claims'
nulls and oracles, and the measurements that explain the comparison.

python -m papers.se3_registration.evaluate scale=cpu seed=0 run.data_dir=<data> \
    run.out_dir=results/cpu/se3_registration/seed0
Reads ``<out_dir>/{surrogate,diffusion}/weights.pt``; writes ``metrics.json`` (per method:
median errors, recalls at 5/10/20 deg and 1/2/5 cm, the released squared-translation variant
and size-scaled thresholds, ADD(-S); the error after each reverse step; errors by starting
angle) and ``errors.npz`` (per-sample errors, used for the bootstrap intervals, and a few
examples for the qualitative figure). Nulls and oracles: the untrained network, the surrogate
alone through the reverse chain, a one-step-per-call contracting oracle denoiser.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch
import trimesh
from omegaconf import DictConfig

from common import provenance
from common.config import config_hash, entry_point, require
from common.io import save_npz, write_metrics
from common.progress import progress
from common.seeding import seed_everything
from common.threads import set_threads
from papers.se3_registration import diffusion, lie
from papers.se3_registration.data import load
from papers.se3_registration.metrics import (
    add_error,
    rotation_error_deg,
    summarise,
    translation_error_cm,
)
from papers.se3_registration.model import denoiser
from papers.se3_registration.train import (
    DEVICE,
    build_net,
    load_net,
    poses,
    sample_clouds,
    validate,
)

CHUNK = 50  # test samples per forward pass
#: the oracle denoiser removes this share of the pose error (in se(3)) per call: a system in
#: which iterating the reverse chain helps by construction (C1, C2, C4's oracle)
ORACLE_SHRINK = 0.5
START_BINS_DEG = (0, 20, 40, 60, 180)  # bins of the starting (identity) rotation error
BY_START = ("dcp", "diff", "diff_s1_noise1", "dcp_chain")  # methods measured per bin
DENOISE_T = (200, 160, 120, 80, 40, 10)  # noise levels of the one-call denoising check
TEST_SUBSET_SEED = 1  # the test clouds' subsets depend on the dataset seed only
log = logging.getLogger(__name__)


def icp(
    H_init: torch.Tensor, Y: torch.Tensor, model_points: np.ndarray, iterations: int, desc="icp"
):
    """Refine poses with trimesh's ICP: observed points onto the model's surface samples."""
    out = []
    samples = zip(H_init.numpy(), Y.double().numpy(), model_points, strict=True)
    for H, y, pts in progress(samples, desc, total=len(H_init)):
        M, _, _ = trimesh.registration.icp(
            y, pts, initial=np.linalg.inv(H), max_iterations=iterations,
            threshold=1e-7, reflection=False, scale=False,
        )  # fmt: skip
        out.append(np.linalg.inv(M))
    return torch.from_numpy(np.asarray(out))


def reverse(net, X, Y, steps, sigma, seed: int, desc="reverse", H0=None, frozen=False):
    """Reverse process of network ``net`` on every test sample, in chunks; return the final
    poses and, per step, the poses after it and the denoiser's H0hat. ``net=None``: the
    contracting oracle denoiser towards the true poses ``H0``. ``frozen``: every call after the
    first returns its input (the correction replaced by the identity: the 1-step chain)."""
    gen = torch.Generator().manual_seed(seed)
    finals, paths, preds = [], [], []
    with torch.no_grad():
        for s in progress(range(0, len(X), CHUNK), f"{desc} (chunks of {CHUNK})"):
            sl = slice(s, s + CHUNK)
            if net is None:
                den = oracle_denoiser(H0[sl])
            else:
                den = denoiser(net, X[sl].to(DEVICE), Y[sl].to(DEVICE))
            calls = []

            def recorded(H, t, den=den, calls=calls):
                calls.append(H if frozen and calls else den(H, t))
                return calls[-1]

            H, path = diffusion.sample(recorded, len(X[sl]), steps, sigma, gen)
            finals.append(H)
            paths.append(torch.stack(path[1:]))
            preds.append(torch.stack(calls))
    return torch.cat(finals), torch.cat(paths, 1), torch.cat(preds, 1)


def oracle_denoiser(H0: torch.Tensor):
    """H0hat = exp(ORACLE_SHRINK log(H0 H^-1)) H: a one-shot registration that removes a fixed
    share of the error, so each further reverse step can only bring the pose closer."""

    def predict(H: torch.Tensor, t: int) -> torch.Tensor:
        return lie.exp(ORACLE_SHRINK * lie.log(H0 @ lie.inverse(H))) @ H

    return predict


def one_call(net, X, Y, H_in) -> torch.Tensor:
    """H0hat of one network call from the poses H_in, in chunks."""
    out = []
    with torch.no_grad():
        for s in range(0, len(X), CHUNK):
            den = denoiser(net, X[s : s + CHUNK].to(DEVICE), Y[s : s + CHUNK].to(DEVICE))
            out.append(den(H_in[s : s + CHUNK], 0))
    return torch.cat(out)


def denoising(nets: dict, X, Y, H0, alpha_bar, sigma, seed: int) -> dict[str, float]:
    """Median rotation error before and after one call from forward-process poses H_t."""
    out = {}
    for t in progress([t for t in DENOISE_T if t < len(alpha_bar)], "one-call denoising check"):
        gen = torch.Generator().manual_seed(seed * 1000 + t)
        ab = torch.full((len(X),), float(alpha_bar[t]), dtype=torch.float64)
        H_t = diffusion.q_sample(H0, ab, sigma, gen)
        out[f"denoise_t{t}_in_deg"] = float(np.median(rotation_error_deg(H_t, H0)))
        for name, net in nets.items():
            H = one_call(net, X, Y, H_t)
            out[f"{name}_denoise_t{t}_out_deg"] = float(np.median(rotation_error_deg(H, H0)))
    return out


def by_start_angle(name: str, rot_deg, start_deg) -> dict[str, float]:
    """Median rotation error of a method per bin of the starting (identity) rotation error."""
    out = {}
    for lo, hi in zip(START_BINS_DEG[:-1], START_BINS_DEG[1:], strict=True):
        inside = (start_deg >= lo) & (start_deg < hi)
        if inside.any():
            out[f"{name}_rot_median_deg_start{lo}_{hi}"] = float(np.median(rot_deg[inside]))
    return out


def along_chain(name: str, path, preds, H0) -> dict[str, float]:
    """Median rotation error of the pose after each reverse step and of each step's H0hat."""
    out = {}
    for i, (H, H0hat) in enumerate(zip(path, preds, strict=True)):
        out[f"{name}_chain{i + 1}_rot_median_deg"] = float(np.median(rotation_error_deg(H, H0)))
        out[f"{name}_chain{i + 1}_pred_rot_median_deg"] = float(
            np.median(rotation_error_deg(H0hat, H0))
        )
    return out


def claim_values(m: dict, head: int) -> dict[str, float]:
    """The claims' metrics (and their nulls and oracles) from the per-method metrics."""
    dcp = m["dcp_rot_median_deg"]
    return {
        "dcp_over_identity_rot_median": dcp / m["identity_rot_median_deg"],
        "untrained_over_identity_rot_median": m["untrained_rot_median_deg"]
        / m["identity_rot_median_deg"],
        "diff_vs_dcp_rot_median_reduction": 1 - m["diff_rot_median_deg"] / dcp,
        "diff1_vs_dcp_rot_median_reduction": 1 - m["diff_s1_noise1_rot_median_deg"] / dcp,
        "oracle_vs_one_rot_median_reduction": 1
        - m["oracle_rot_median_deg"] / m["oracle1_rot_median_deg"],
        "diff_minus_dcp_recall_rot5": m["diff_recall_rot5"] - m["dcp_recall_rot5"],
        "diff1_minus_dcp_recall_rot5": m["diff_s1_noise1_recall_rot5"] - m["dcp_recall_rot5"],
        "oracle_minus_one_recall_rot5": m["oracle_recall_rot5"] - m["oracle1_recall_rot5"],
        "diff1_over_dcp_rot_median": m["diff_s1_noise1_rot_median_deg"] / dcp,
        "untrained_over_dcp_rot_median": m["untrained_rot_median_deg"] / dcp,
        "dcp_chain1_over_direct_rot_median": dcp / m["dcp_direct_rot_median_deg"],
        "diff_steps_rot_median_change_deg": m[f"diff_s{head}_noise1_rot_median_deg"]
        - m["diff_s1_noise1_rot_median_deg"],
        "frozen_steps_rot_median_change_deg": m["frozen_rot_median_deg"]
        - m["diff_s1_noise1_rot_median_deg"],
        "oracle_steps_rot_median_change_deg": m["oracle_rot_median_deg"]
        - m["oracle1_rot_median_deg"],
    }


def validate_eval(cfg: DictConfig) -> None:
    """One-line error naming the first out-of-range field."""
    ec = cfg.eval
    validate(cfg, cfg.train.kind)
    require(cfg, {
        "eval.steps_ablation": (
            1 in ec.steps_ablation and all(1 <= n <= cfg.diffusion.T for n in ec.steps_ablation),
            "must hold 1 (the claims compare one step with the surrogate) and steps <= diffusion.T",
        ),
        "eval.icp_iterations": (ec.icp_iterations >= 1, "must be >= 1"),
        "eval.ref_diameter_mm": (ec.ref_diameter_mm > 0, "must be > 0"),
        "eval.add_frac": (ec.add_frac > 0, "must be > 0"),
        "eval.n_examples": (ec.n_examples >= 1, "must be >= 1"),
    })  # fmt: skip


def evaluate(cfg: DictConfig, run: Path, data_dir: Path):
    """(metrics, arrays) of one seed."""
    validate_eval(cfg)
    ec, dc, mc = cfg.eval, cfg.diffusion, cfg.model
    _, test, models = load(data_dir)
    rng = np.random.default_rng([cfg.data.seed, TEST_SUBSET_SEED])
    idx = np.arange(len(test["obs"]))
    X, Y = sample_clouds(test, models, idx, mc.n_obs, mc.n_model, rng)
    H0 = poses(test, idx)
    obj = test["obj"]
    dense = models["points"][obj].astype(np.float64)
    diam, sym = models["diameter"][obj], models["symmetric"][obj]
    surrogate = load_net(cfg, run / "surrogate" / "weights.pt")
    diff_net = load_net(cfg, run / "diffusion" / "weights.pt")
    alpha_bar = diffusion.cosine_alpha_bar(dc.T, dc.cosine_s)
    sigma = diffusion.noise_scales(dc, test=True)
    head = dc.test_steps

    timings = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        out = fn()
        timings[name] = (time.perf_counter() - t0) / len(X)
        return out

    identity = lie.identity(len(X))
    steps = diffusion.reverse_steps(alpha_bar, head)
    one_step = diffusion.reverse_steps(alpha_bar, 1)
    H = {"identity": identity}
    H["icp"] = timed("icp", lambda: icp(identity, Y, dense, ec.icp_iterations))
    H["dcp"] = timed("dcp", lambda: reverse(surrogate, X, Y, one_step, None, 0, "dcp")[0])
    H["dcp_direct"] = one_call(surrogate, X, Y, identity)  # C3's oracle: the same call
    H["dcp_icp"] = icp(H["dcp"], Y, dense, ec.icp_iterations, "dcp + icp")
    H["diff"], diff_path, diff_preds = timed(
        "diff", lambda: reverse(diff_net, X, Y, steps, sigma, cfg.seed, "diff")
    )
    H["diff_icp"] = icp(H["diff"], Y, dense, ec.icp_iterations, "diff + icp")
    # the surrogate alone through the chain; the 1-step chain (C4's null); the oracle (C1, C2, C4)
    H["dcp_chain"], dcp_path, dcp_preds = reverse(surrogate, X, Y, steps, sigma, cfg.seed, "dcp")
    H["frozen"] = reverse(diff_net, X, Y, steps, sigma, cfg.seed, "1-step chain", frozen=True)[0]
    H["oracle"] = reverse(None, X, Y, steps, sigma, cfg.seed, "oracle", H0)[0]
    H["oracle1"] = reverse(None, X, Y, one_step, None, 0, "oracle", H0)[0]
    # null of the surrogate control: the same architecture, untrained (same init seed)
    torch.manual_seed(cfg.seed)
    untrained = build_net(cfg).to(DEVICE).eval()
    H["untrained"] = reverse(untrained, X, Y, one_step, None, 0, "untrained")[0]
    for n in sorted({*ec.steps_ablation, head}):
        for noise in (0, 1):
            if n == head and noise:  # the headline run, same noise draws
                H[f"diff_s{n}_noise1"] = H["diff"]
                continue
            st = diffusion.reverse_steps(alpha_bar, n)
            H[f"diff_s{n}_noise{noise}"] = reverse(
                diff_net, X, Y, st, sigma if noise else None, cfg.seed, f"diff {n} steps"
            )[0]

    nets = {"dcp": surrogate, "diff": diff_net}
    metrics = denoising(nets, X, Y, H0, alpha_bar, diffusion.noise_scales(dc), cfg.seed)
    metrics |= along_chain("diff", diff_path, diff_preds, H0)
    metrics |= along_chain("dcp_chain", dcp_path, dcp_preds, H0)
    start = rotation_error_deg(identity, H0)
    arrays = {"diameter": diam, "obj": obj}
    for name, Hp in H.items():
        rot, trans = rotation_error_deg(Hp, H0), translation_error_cm(Hp, H0)
        add = add_error(Hp, H0, dense, sym)
        metrics |= summarise(name, rot, trans, add, diam, ec)
        metrics |= by_start_angle(name, rot, start) if name in BY_START else {}
        arrays |= {f"{name}/rot_deg": rot, f"{name}/trans_cm": trans, f"{name}/add_m": add}
    metrics |= claim_values(metrics, head) | {"n_test": len(X)}
    metrics |= {f"{k}_s_per_sample": v for k, v in timings.items()}
    ex = np.arange(min(ec.n_examples, len(X)))
    arrays |= {
        "examples/X": X[ex].numpy(),
        "examples/Y": Y[ex].numpy(),
        "examples/H0": H0[ex].numpy(),
    }
    arrays |= {f"examples/{k}": H[k][ex].numpy() for k in ("icp", "dcp", "diff")}
    return metrics, arrays


@entry_point("se3_registration")
def main(cfg: DictConfig) -> None:
    set_threads(cfg.run.threads)
    torch.set_num_threads(cfg.run.threads)
    seed_everything(cfg.seed)
    run, t0 = Path(cfg.run.out_dir), time.perf_counter()
    metrics, arrays = evaluate(cfg, run, Path(cfg.run.data_dir))
    save_npz(run / "errors.npz", **arrays)
    meta = provenance.collect(config_hash(cfg), cfg.seed, time.perf_counter() - t0)
    write_metrics(run / "metrics.json", metrics, meta)
    for name in ("icp", "dcp", "dcp_icp", "diff", "diff_icp"):
        log.info(
            "%-9s median rot %.2f deg, recall@5deg %.1f%%, ADD %.1f%%", name,
            metrics[f"{name}_rot_median_deg"], metrics[f"{name}_recall_rot5"],
            metrics[f"{name}_add"],
        )  # fmt: skip


if __name__ == "__main__":
    main()
