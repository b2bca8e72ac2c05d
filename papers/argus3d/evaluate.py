"""Generation metrics of one stage-2 run against the test set (Hydra entry point).

python -m papers.argus3d.evaluate <stage-2 overrides> run.out_dir=results/cpu/argus3d/gen/<run>
Reads the run's ``samples.npz`` and ``stage2.json``, the test (and, with ``eval.novelty``,
training) surface points of the dataset, and writes ``metrics.json``: COV, 1-NNA
(percent) and MMD with Chamfer distance and EMD, averaged over categories, per category too;
the validation NLL; and the novelty check (median distance of generated shapes, and of the
test reconstructions, to their nearest training shape). It also writes ``distances.npz``
(per-category Chamfer matrices, for the aggregate's bootstrap intervals). With
``eval.controls`` it scores reference generators through the same metrics: the training
shapes (oracle, 1-NNA ~50%), a memoriser that decodes training codes, random codes through
the decoder and uniform noise (nulls).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from common import provenance
from common.config import config_hash, entry_point, require
from common.io import load_npz, load_torch, read_json, save_npz, write_metrics
from common.progress import Progress
from common.seeding import seed_everything
from common.threads import set_threads
from papers.argus3d.extract import decode_codes
from papers.argus3d.metrics import nearest_distance, set_metrics
from papers.argus3d.model import ShapeAutoencoder
from papers.argus3d.runs import stage1_dir
from papers.argus3d.runtime import load_data


def head_per_category(category: np.ndarray, n: int | None) -> np.ndarray:
    """Indices of the first ``n`` shapes of every category (all of them for None)."""
    return np.concatenate([np.flatnonzero(category == c)[:n] for c in np.unique(category)])


def per_category(
    gen: dict, ref, cats: list[str], ec, dists=("cd", "emd"), mats: dict | None = None
) -> dict[str, float]:
    """COV / MMD / 1-NNA per category (first ``n_ref`` generated vs first ``n_ref`` test shapes)
    and their category means, per distance; ``mats`` collects the Chamfer matrices."""
    out: dict[str, float] = {}
    n_pts = {"cd": ec.n_cd_metric or ec.n_cd, "emd": ec.n_emd}
    bar, done = Progress(len(dists) * len(cats), "set metrics (category x distance)"), 0
    for dist in dists:
        rows = []
        for i, cat in enumerate(cats):
            bar.update(done)
            done += 1
            g = gen["points"][gen["category"] == i][: ec.n_ref, : n_pts[dist]]
            r = ref.surface[ref.category == i][: ec.n_ref, : n_pts[dist]]
            m = set_metrics(g, r, dist)
            rows.append(m)
            out[f"nna_{dist}_{cat}"] = 100 * m["nna"]
            if mats is not None and dist == "cd":
                mats |= {f"{k}_{cat}": m[k] for k in ("d_gg", "d_gr", "d_rr")}
        for key in ("cov", "mmd", "nna"):
            mean = float(np.mean([m[key] for m in rows]))
            out[f"{key}_{dist}"] = mean if key == "mmd" else 100 * mean
    bar.update(done)
    return out


def control_sets(cfg: DictConfig, out: Path, train) -> dict[str, dict]:
    """Reference generators, ``n_ref`` shapes per category each: the training shapes (oracle),
    a memoriser decoding the training codes, random codes through the decoder, uniform noise."""
    ec, sc = cfg.eval, cfg.stage1
    s1 = stage1_dir(out, cfg.stage2.rep)
    ae = ShapeAutoencoder(sc)
    ae.load_state_dict(load_torch(s1 / "model.pt"))
    ae.eval()
    codes = load_npz(s1 / "codes.npz")
    first = head_per_category(codes["train_category"], ec.n_ref)
    category = codes["train_category"][first]
    rng = np.random.default_rng(cfg.seed)
    random_codes = rng.integers(0, sc.codebook_size, codes["train_codes"][first].shape)
    n_pts = max(ec.n_cd_metric or ec.n_cd, ec.n_emd, ec.n_novelty)
    shown = head_per_category(train.category, ec.n_ref)
    sets = {
        "train": train.surface[shown],
        "memoriser": decode_codes(ae, codes["train_codes"][first], sc, n_pts, rng)[0],
        "random_codes": decode_codes(ae, random_codes, sc, n_pts, rng)[0],
        "noise": rng.uniform(-0.5, 0.5, (len(first), n_pts, 3)).astype(np.float32),
    }
    return {k: {"points": v, "category": category} for k, v in sets.items()}


def novelty_pool(cfg: DictConfig, train) -> np.ndarray:
    """Surface points of the training shapes the novelty check searches (the first
    ``n_novelty_train`` per category, ``n_novelty`` points each)."""
    ec = cfg.eval
    return train.surface[head_per_category(train.category, ec.n_novelty_train), : ec.n_novelty]


def recon_novelty_median(cfg: DictConfig, out: Path, pool: np.ndarray) -> float:
    """Median Chamfer distance of the first ``n_ref`` test reconstructions (per category) to
    their nearest shape in ``pool``: the novelty ratio's denominator."""
    rec = load_npz(stage1_dir(out, cfg.stage2.rep) / "recon.npz")
    recon = rec["points"][head_per_category(rec["category"], cfg.eval.n_ref), : cfg.eval.n_novelty]
    return float(np.median(nearest_distance(recon, pool)))


def novelty(cfg: DictConfig, gen: dict, pool: np.ndarray, d_test: float) -> dict[str, float]:
    """Median Chamfer distance to the nearest training shape in ``pool`` of the first ``n_ref``
    generated shapes, and its ratio to the test reconstructions' (``d_test``)."""
    ec = cfg.eval
    pts = gen["points"][head_per_category(gen["category"], ec.n_ref), : ec.n_novelty]
    d_gen = float(np.median(nearest_distance(pts, pool)))
    return {"novelty_gen_median": d_gen, "novelty_test_recon_median": d_test,
            "novelty_ratio": d_gen / d_test}  # fmt: skip


def controls(
    cfg: DictConfig, out: Path, ref, train, pool: np.ndarray, d_test: float
) -> dict[str, float]:
    """1-NNA / COV / MMD (Chamfer) and the novelty ratio of every reference generator."""
    cats, m = list(cfg.data.categories), {}
    for name, gen in control_sets(cfg, out, train).items():
        got = per_category(gen, ref, cats, cfg.eval, dists=("cd",))
        m |= {f"control_{name}_{k}": got[k] for k in ("nna_cd", "cov_cd", "mmd_cd")}
        m[f"control_{name}_novelty_ratio"] = novelty(cfg, gen, pool, d_test)["novelty_ratio"]
    return m


def validate(cfg: DictConfig) -> None:
    ec = cfg.eval
    require(cfg, {
        "eval.n_ref": (ec.n_ref >= 2, "must be >= 2"),
        "eval.n_cd": (ec.n_cd >= 1, "must be >= 1"),
        "eval.n_cd_metric": (ec.n_cd_metric is None or ec.n_cd_metric >= 1, "must be >= 1"),
        "eval.n_emd": (ec.n_emd >= 1, "must be >= 1"),
        "eval.n_novelty": (ec.n_novelty >= 1, "must be >= 1"),
        "eval.n_novelty_train": (
            ec.n_novelty_train is None or ec.n_novelty_train >= ec.n_ref,
            "must be >= eval.n_ref (the memoriser's training shapes are searched)",
        ),
    })  # fmt: skip


@entry_point("argus3d")
def main(cfg: DictConfig) -> None:
    validate(cfg)
    set_threads(cfg.run.threads)
    seed_everything(cfg.seed)
    out, t0 = Path(cfg.run.out_dir), time.perf_counter()
    gen = load_npz(out / "samples.npz")
    s2 = read_json(out / "stage2.json")
    ref = load_data(cfg, "test", n_query=1)
    cats = list(cfg.data.categories)
    mats: dict[str, np.ndarray] = {}
    metrics = per_category(gen, ref, cats, cfg.eval, mats=mats)
    if cfg.eval.novelty or cfg.eval.controls:
        train = load_data(cfg, "train", n_query=1)
        pool = novelty_pool(cfg, train)
        d_test = recon_novelty_median(cfg, out, pool)
        if cfg.eval.novelty:
            metrics |= novelty(cfg, gen, pool, d_test)
        if cfg.eval.controls:
            metrics |= controls(cfg, out, ref, train, pool, d_test)
    save_npz(out / "distances.npz", **mats)
    metrics |= {"val_nll": s2["val_nll"], "has_surface": s2["has_surface"],
                "gpt_params": s2["params"]}  # fmt: skip
    h = config_hash(cfg)
    meta = provenance.collect(config_hash=h, seed=cfg.seed, wall_time_s=time.perf_counter() - t0)
    write_metrics(out / "metrics.json", metrics, meta)
    logging.getLogger(__name__).info(
        "%s", {k: round(v, 4) for k, v in metrics.items() if not k.startswith("nna_cd_")}
    )


if __name__ == "__main__":
    main()
