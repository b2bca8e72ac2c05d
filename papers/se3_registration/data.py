"""Build the dataset and cache it as point clouds (Hydra entry point).

python -m papers.se3_registration.data scale=cpu run.out_dir=results/cpu/se3_registration/data \
    run.data_dir=results/cpu/se3_registration/data/bop
``run.data_dir`` is the BOP dataset folder: ``data.name=synthetic`` writes a synthetic BOP
dataset there first; ``data.name=bop`` reads the released files the user put there (real
TUD-L / LINEMOD / LM-O). Either way the BOP loader then reads the splits and
writes ``train.npz`` / ``test.npz`` (observed points cropped by the visible mask and centred,
the pose of the model in that centred frame; metres), ``models.npz`` and ``dataset.json``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import trimesh
from omegaconf import DictConfig

from common.config import config_hash, entry_point, require
from common.io import load_npz, save_npz, write_json
from papers.se3_registration import bop
from papers.se3_registration.schema import DATA_SECTIONS

MM = 1e-3  # millimetres -> metres


def validate(cfg: DictConfig) -> None:
    """One-line error naming the first out-of-range field."""
    dc, sc = cfg.data, cfg.data.synthetic
    require(cfg, {
        "data.name": (dc.name in ("synthetic", "bop"), "must be one of synthetic, bop"),
        "run.data_dir": (
            bool(cfg.run.data_dir),
            "must name the BOP dataset folder (written there for data.name=synthetic)",
        ),
        "data.min_points": (dc.min_points >= 1, "must be >= 1"),
        "data.n_store": (dc.n_store >= 1, "must be >= 1"),
        "data.n_model_store": (dc.n_model_store >= 1, "must be >= 1"),
        "data.max_per_scene": (dc.max_per_scene >= 0, "must be >= 0 (0: every image)"),
        "data.synthetic.n_objects": (1 <= sc.n_objects <= 5, "must be in [1, 5]"),
        "data.synthetic.train_frames": (sc.train_frames >= 1, "must be >= 1"),
        "data.synthetic.test_frames": (sc.test_frames >= 1, "must be >= 1"),
        "data.synthetic.focal": (sc.focal > 0, "must be > 0"),
        "data.synthetic.max_rotation_deg": (
            0 <= sc.max_rotation_deg <= 180, "must be in [0, 180]"
        ),
        "data.synthetic.background_mm": (sc.background_mm > 0, "must be > 0"),
        "data.synthetic.depth_noise_mm": (sc.depth_noise_mm >= 0, "must be >= 0"),
    })  # fmt: skip


def dataset_root(cfg: DictConfig) -> Path:
    """The BOP dataset folder: ``run.data_dir`` (synthetic: written there by this script)."""
    validate(cfg)
    return Path(cfg.run.data_dir)


def model_arrays(root: Path, obj_ids: list[int], n_points: int, seed: int) -> dict[str, np.ndarray]:
    """Surface samples (metres), diameters (metres) and symmetry flags of the objects."""
    info = bop.read_models_info(root)
    points, diam, sym = [], [], []
    for obj_id in obj_ids:
        if obj_id not in info:
            raise ValueError(f"BOP dataset: object {obj_id} missing from models_info.json")
        path = bop.model_path(root, obj_id)
        if not path.exists():
            raise FileNotFoundError(f"BOP dataset: missing model {path}")
        mesh = trimesh.load(path, force="mesh")
        points.append(mesh.sample(n_points, seed=seed + obj_id) * MM)
        diam.append(float(info[obj_id]["diameter"]) * MM)
        sym.append(bop.is_symmetric(info[obj_id]))
    return {
        "points": np.asarray(points, np.float32),
        "diameter": np.asarray(diam),
        "symmetric": np.asarray(sym),
        "obj_ids": np.asarray(obj_ids),
    }


def split_arrays(cfg: DictConfig, root: Path, split: str, obj_index: dict[int, int], seed: int):
    """Observed clouds of every usable instance of ``split`` with their centred poses."""
    dc = cfg.data
    rng = np.random.default_rng(seed)
    targets = dc.test_targets if split == dc.test_split else ""
    obs, centroid, R, t, obj, skipped = [], [], [], [], [], 0
    for frame in bop.iter_frames(root, split, list(obj_index), targets, dc.max_per_scene):
        pts = bop.backproject(frame) * MM
        if len(pts) < dc.min_points:
            skipped += 1
            continue
        idx = rng.choice(len(pts), dc.n_store, replace=len(pts) < dc.n_store)
        c = pts.mean(0)
        obs.append(pts[idx] - c)
        centroid.append(c)
        R.append(frame.R)
        t.append(frame.t_mm * MM - c)
        obj.append(obj_index[frame.obj_id])
    if not obs:
        raise ValueError(f"BOP dataset: no usable instances in split {split!r} of {root}")
    arrays = {
        "obs": np.asarray(obs, np.float32),
        "centroid": np.asarray(centroid),
        "R": np.asarray(R),
        "t": np.asarray(t),
        "obj": np.asarray(obj),
    }
    return arrays, skipped


def object_ids(cfg: DictConfig, root: Path) -> list[int]:
    if cfg.data.obj_ids:
        return [int(i) for i in cfg.data.obj_ids]
    return sorted(bop.read_models_info(root))


def load(data_dir: str | Path) -> tuple[dict, dict, dict]:
    """(train, test, models) arrays written by this script."""
    data_dir = Path(data_dir)
    return tuple(load_npz(data_dir / f"{name}.npz") for name in ("train", "test", "models"))


@entry_point("se3_registration")
def main(cfg: DictConfig) -> None:
    from papers.se3_registration.synthetic import write_dataset

    out = Path(cfg.run.out_dir)
    t0 = time.perf_counter()
    root = dataset_root(cfg)
    summary = {}
    if cfg.data.name == "synthetic":
        summary = write_dataset(root, cfg.data.synthetic, cfg.data.seed)
    ids = object_ids(cfg, root)
    models = model_arrays(root, ids, cfg.data.n_model_store, cfg.data.seed)
    index = {obj_id: i for i, obj_id in enumerate(ids)}
    train, skip_train = split_arrays(cfg, root, cfg.data.train_split, index, cfg.data.seed)
    test, skip_test = split_arrays(cfg, root, cfg.data.test_split, index, cfg.data.seed + 1)
    save_npz(out / "models.npz", **models)
    save_npz(out / "train.npz", **train)
    save_npz(out / "test.npz", **test)
    write_json(
        out / "dataset.json",
        summary
        | {
            "config_hash": config_hash(cfg, DATA_SECTIONS),
            "root": str(root),
            "obj_ids": ids,
            "n_train": len(train["obs"]),
            "n_test": len(test["obs"]),
            "skipped_train": skip_train,
            "skipped_test": skip_test,
            "diameter_mm": (models["diameter"] / MM).tolist(),
            "wall_time_s": time.perf_counter() - t0,
        },
    )
    logging.getLogger(__name__).info(
        "dataset: %d train / %d test instances from %s", len(train["obs"]), len(test["obs"]), root
    )


if __name__ == "__main__":
    main()
