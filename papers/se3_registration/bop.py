"""The BOP dataset layout: read (real TUD-L / LINEMOD / Occluded-LINEMOD or ours) and write.

<root>/models/models_info.json, <root>/models/obj_XXXXXX.ply (millimetres), and per split
<root>/<split>/<scene:06d>/{scene_gt.json, scene_camera.json, depth/<im:06d>.png,
mask_visib/<im:06d>_<gt:06d>.png}. Depth in the PNG times ``depth_scale`` is millimetres.
Optionally <root>/<targets file> (e.g. test_targets_bop19.json) restricts the frames.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from common.io import atomic_path


@dataclass
class Frame:
    """One annotated object instance in one image."""

    scene_id: int
    im_id: int
    gt_id: int
    obj_id: int
    depth_mm: np.ndarray  # (H, W) float, 0 where invalid
    mask_visib: np.ndarray  # (H, W) bool
    K: np.ndarray  # (3, 3)
    R: np.ndarray  # (3, 3) model -> camera
    t_mm: np.ndarray  # (3,)


def _read_json(path: Path, what: str) -> dict | list:
    if not path.exists():
        raise FileNotFoundError(f"BOP dataset: missing {what} {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"BOP dataset: malformed {what} {path}: {err}") from None


def read_models_info(root: Path) -> dict[int, dict]:
    """obj_id -> info (diameter in mm, symmetries, extents) from models/models_info.json."""
    info = _read_json(root / "models" / "models_info.json", "models info")
    out = {}
    for key, value in info.items():
        if "diameter" not in value:
            raise ValueError(f"BOP dataset: models_info.json entry {key} has no 'diameter'")
        out[int(key)] = value
    return out


def is_symmetric(info: dict) -> bool:
    """Whether BOP lists discrete or continuous symmetries for the object (then ADD-S)."""
    return bool(info.get("symmetries_discrete") or info.get("symmetries_continuous"))


def model_path(root: Path, obj_id: int) -> Path:
    return root / "models" / f"obj_{obj_id:06d}.ply"


def read_png(path: Path, what: str) -> np.ndarray:
    if not path.exists():
        raise FileNotFoundError(f"BOP dataset: missing {what} {path}")
    return np.asarray(Image.open(path))


def _targets(root: Path, targets_file: str) -> set[tuple[int, int, int]] | None:
    """(scene, image, obj) triples of a BOP targets file, or None when none is named."""
    if not targets_file:
        return None
    rows = _read_json(root / targets_file, "targets file")
    return {(int(r["scene_id"]), int(r["im_id"]), int(r["obj_id"])) for r in rows}


def iter_frames(
    root: str | Path,
    split: str,
    obj_ids: list[int] | None = None,
    targets_file: str = "",
    max_per_scene: int = 0,
) -> Iterator[Frame]:
    """Yield every annotated instance of ``split`` (optionally only ``obj_ids`` / targets)."""
    root = Path(root)
    split_dir = root / split
    if not split_dir.is_dir():
        raise FileNotFoundError(f"BOP dataset: missing split directory {split_dir}")
    scenes = sorted(p for p in split_dir.iterdir() if p.is_dir() and p.name.isdigit())
    if not scenes:
        raise ValueError(f"BOP dataset: no scene directories (000001, ...) in {split_dir}")
    targets = _targets(root, targets_file)
    for scene in scenes:
        scene_id = int(scene.name)
        gts = _read_json(scene / "scene_gt.json", "scene_gt")
        cams = _read_json(scene / "scene_camera.json", "scene_camera")
        for n, im_key in enumerate(sorted(gts, key=int)):
            if max_per_scene and n >= max_per_scene:
                break
            im_id = int(im_key)
            if im_key not in cams:
                raise ValueError(f"BOP dataset: image {im_id} of {scene} has no scene_camera entry")
            cam = cams[im_key]
            wanted = [
                (g, a)
                for g, a in enumerate(gts[im_key])
                if (obj_ids is None or int(a["obj_id"]) in obj_ids)
                and (targets is None or (scene_id, im_id, int(a["obj_id"])) in targets)
            ]
            if not wanted:
                continue
            depth = read_png(scene / "depth" / f"{im_id:06d}.png", "depth image")
            depth = depth.astype(np.float64) * float(cam.get("depth_scale", 1.0))
            K = np.asarray(cam["cam_K"], np.float64).reshape(3, 3)
            for gt_id, ann in wanted:
                mask_file = scene / "mask_visib" / f"{im_id:06d}_{gt_id:06d}.png"
                yield Frame(
                    scene_id=scene_id,
                    im_id=im_id,
                    gt_id=gt_id,
                    obj_id=int(ann["obj_id"]),
                    depth_mm=depth,
                    mask_visib=read_png(mask_file, "visible mask") > 0,
                    K=K,
                    R=np.asarray(ann["cam_R_m2c"], np.float64).reshape(3, 3),
                    t_mm=np.asarray(ann["cam_t_m2c"], np.float64).reshape(3),
                )


def backproject(frame: Frame) -> np.ndarray:
    """Camera-frame points (mm) of the valid depth pixels inside the visible mask, (N, 3)."""
    v, u = np.nonzero(frame.mask_visib & (frame.depth_mm > 0))
    z = frame.depth_mm[v, u]
    K = frame.K
    x = (u - K[0, 2]) * z / K[0, 0]
    y = (v - K[1, 2]) * z / K[1, 1]
    return np.stack([x, y, z], -1)


def write_png(path: Path, image: np.ndarray) -> None:
    """Write a uint8 / uint16 PNG atomically."""
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")


def write_json(path: Path, obj) -> None:
    """Compact JSON in the BOP style (atomic)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1))
