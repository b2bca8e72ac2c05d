"""A synthetic BOP dataset: asymmetric procedural objects, z-buffer depth, noise, occlusion.

Objects are composites of trimesh primitives (no proper rotational symmetry, so the rotation
error is well defined; millimetres, centred on their centroid). Each frame shows one object
(as in TUD-L) in front of a background plane; depth comes from a z-buffer splat of dense
surface samples (back faces culled), with Gaussian sensor noise. A random slab of the visible
object is hidden behind an occluder in front of it, which removes it from ``mask_visib``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from scipy.spatial.transform import Rotation

from common.io import atomic_path
from papers.se3_registration import bop

SPLAT_SAMPLES = 30000  # surface samples per object for the z-buffer


def _place(mesh: trimesh.Trimesh, xyz=(0, 0, 0), rot=None) -> trimesh.Trimesh:
    mesh = mesh.copy()
    if rot is not None:
        mesh.apply_transform(rot)
    mesh.apply_translation(xyz)
    return mesh


def _rot(axis, deg):
    return trimesh.transformations.rotation_matrix(np.radians(deg), axis)


def object_meshes() -> dict[str, trimesh.Trimesh]:
    """Name -> watertight-ish composite mesh in millimetres, centred on its centroid."""
    c = trimesh.creation
    parts = {
        "mug": [
            c.cylinder(radius=40, height=95, sections=48),
            _place(c.torus(28, 7), (48, 0, 5), _rot([1, 0, 0], 90)),
            _place(c.box([20, 20, 10]), (-30, 0, 52)),
        ],
        "lblock": [
            c.box([140, 45, 40]),
            _place(c.box([45, 45, 90]), (47, 0, 65)),
            _place(c.cylinder(radius=12, height=40, sections=24), (-50, 0, 40)),
        ],
        "hammer": [
            c.cylinder(radius=11, height=160, sections=24),
            _place(c.box([90, 30, 30]), (20, 0, 80)),
            _place(c.cone(radius=15, height=30, sections=24), (65, 0, 80), _rot([0, 1, 0], 90)),
        ],
        "duck": [
            _place(c.icosphere(subdivisions=3, radius=1), rot=np.diag([65, 45, 38, 1])),
            _place(c.icosphere(subdivisions=3, radius=26), (45, 0, 45)),
            _place(c.cone(radius=12, height=30, sections=24), (68, 0, 45), _rot([0, 1, 0], 90)),
        ],
        "bottle": [
            c.cylinder(radius=32, height=120, sections=48),
            _place(c.cone(radius=32, height=45, sections=48), (0, 0, 60)),
            _place(c.box([30, 12, 50]), (0, 36, -10)),
            _place(c.capsule(height=40, radius=8), (22, -25, -40), _rot([1, 0, 0], 90)),
        ],
    }
    meshes = {}
    for name, pieces in parts.items():
        mesh = trimesh.util.concatenate(pieces)
        mesh.apply_translation(-mesh.sample(20000, seed=0).mean(0))
        meshes[name] = mesh
    return meshes


def random_rotation(rng: np.random.Generator, max_angle_deg: float) -> np.ndarray:
    """Rotation about a uniform axis by an angle uniform in [0, max_angle_deg]."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = np.radians(rng.uniform(0, max_angle_deg))
    return Rotation.from_rotvec(axis * angle).as_matrix()


def render_depth(
    samples: np.ndarray, normals: np.ndarray, R: np.ndarray, t: np.ndarray, K: np.ndarray, hw
) -> np.ndarray:
    """Z-buffer splat of surface samples (mm) posed by (R, t): depth in mm, inf where empty."""
    p = samples @ R.T + t
    n = normals @ R.T
    p = p[np.einsum("ij,ij->i", p, n) < 0]  # front faces only
    u = np.round(K[0, 0] * p[:, 0] / p[:, 2] + K[0, 2]).astype(int)
    v = np.round(K[1, 1] * p[:, 1] / p[:, 2] + K[1, 2]).astype(int)
    h, w = hw
    ok = (u >= 0) & (u < w) & (v >= 0) & (v < h) & (p[:, 2] > 0)
    depth = np.full(h * w, np.inf)
    np.minimum.at(depth, v[ok] * w + u[ok], p[ok, 2])
    return depth.reshape(h, w)


def occlusion_mask(mask: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Pixels of ``mask`` on one side of a random line, about ``fraction`` of them."""
    v, u = np.nonzero(mask)
    direction = rng.normal(size=2)
    proj = u * direction[0] + v * direction[1]
    cut = proj > np.quantile(proj, 1 - fraction)
    occ = np.zeros_like(mask)
    occ[v[cut], u[cut]] = True
    return occ


def write_dataset(root: str | Path, cfg, seed: int) -> dict:
    """Write models and the train / test splits under ``root``; return a summary."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    meshes = object_meshes()
    names = list(meshes)[: cfg.n_objects]
    h, w = cfg.image_hw
    K = np.array([[cfg.focal, 0, w / 2], [0, cfg.focal, h / 2], [0, 0, 1]])
    info = {}
    for obj_id, name in enumerate(names, start=1):
        mesh = meshes[name]
        with atomic_path(bop.model_path(root, obj_id)) as tmp:
            mesh.export(tmp, file_type="ply")
        pts = mesh.sample(4000, seed=obj_id)
        diam = float(np.max(np.linalg.norm(pts[:, None] - pts[None, ::4], axis=-1)))
        lo, hi = mesh.bounds
        info[str(obj_id)] = {
            "diameter": diam,
            "min_x": lo[0], "min_y": lo[1], "min_z": lo[2],
            "size_x": hi[0] - lo[0], "size_y": hi[1] - lo[1], "size_z": hi[2] - lo[2],
            "name": name,
        }  # fmt: skip
    bop.write_json(root / "models" / "models_info.json", info)
    counts = {}
    for split, n_frames in (("train", cfg.train_frames), ("test", cfg.test_frames)):
        for obj_id, name in enumerate(names, start=1):
            samples, faces = trimesh.sample.sample_surface(
                meshes[name], SPLAT_SAMPLES, seed=int(rng.integers(1 << 30))
            )
            normals = meshes[name].face_normals[faces]
            counts[(split, name)] = _write_scene(
                root / split / f"{obj_id:06d}", obj_id, samples, normals, K, (h, w), n_frames,
                cfg, rng,
            )  # fmt: skip
    return {"objects": names, "frames": {f"{s}/{n}": c for (s, n), c in counts.items()}}


def _write_scene(scene, obj_id, samples, normals, K, hw, n_frames, cfg, rng) -> int:
    gts, cams, infos = {}, {}, {}
    depth_scale = 0.1  # PNG unit in mm, as in several BOP datasets
    for im_id in range(n_frames):
        R = random_rotation(rng, cfg.max_rotation_deg)
        z = rng.uniform(*cfg.distance_mm)
        t = np.array([rng.uniform(-0.15, 0.15) * z, rng.uniform(-0.1, 0.1) * z, z])
        depth = render_depth(samples, normals, R, t, K, hw)
        mask = np.isfinite(depth)
        occ = occlusion_mask(mask, rng.uniform(*cfg.occlusion), rng)
        visib = mask & ~occ
        background = t[2] + cfg.background_mm
        scene_depth = np.where(mask, depth, background)
        scene_depth[occ] = depth[occ] - rng.uniform(30, 100)
        scene_depth = scene_depth + rng.normal(0, cfg.depth_noise_mm, size=scene_depth.shape)
        png = np.clip(np.round(scene_depth / depth_scale), 0, 65535).astype(np.uint16)
        bop.write_png(scene / "depth" / f"{im_id:06d}.png", png)
        bop.write_png(scene / "mask" / f"{im_id:06d}_000000.png", mask.astype(np.uint8) * 255)
        bop.write_png(
            scene / "mask_visib" / f"{im_id:06d}_000000.png", visib.astype(np.uint8) * 255
        )
        key = str(im_id)
        gts[key] = [{"cam_R_m2c": R.ravel().tolist(), "cam_t_m2c": t.tolist(), "obj_id": obj_id}]
        cams[key] = {"cam_K": K.ravel().tolist(), "depth_scale": depth_scale}
        infos[key] = [{
            "px_count_all": int(mask.sum()),
            "px_count_visib": int(visib.sum()),
            "visib_fract": float(visib.sum() / max(mask.sum(), 1)),
        }]  # fmt: skip
    bop.write_json(scene / "scene_gt.json", gts)
    bop.write_json(scene / "scene_camera.json", cams)
    bop.write_json(scene / "scene_gt_info.json", infos)
    return n_frames
