"""The BOP loader on files the tests write: hand-made real-format files and our synthetic set."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import trimesh
from PIL import Image
from scipy.spatial import cKDTree

from papers.se3_registration import bop, synthetic


def write_bop_scene(root, depth_scale=0.1, with_mask=True):
    """A 4x6 image of a flat surface at 500 mm with one annotated object (TUD-L style names)."""
    scene = root / "train_real" / "000003"
    (scene / "depth").mkdir(parents=True)
    (scene / "mask_visib").mkdir()
    depth = np.full((4, 6), 500.0)
    Image.fromarray(np.round(depth / depth_scale).astype(np.uint16)).save(
        scene / "depth" / "000007.png"
    )
    if with_mask:
        mask = np.zeros((4, 6), np.uint8)
        mask[1:3, 2:5] = 255
        Image.fromarray(mask).save(scene / "mask_visib" / "000007_000001.png")
    K = [100.0, 0, 3.0, 0, 100.0, 2.0, 0, 0, 1]
    (scene / "scene_camera.json").write_text(
        json.dumps({"7": {"cam_K": K, "depth_scale": depth_scale}})
    )
    gt = [
        {"cam_R_m2c": np.eye(3).ravel().tolist(), "cam_t_m2c": [1, 2, 3], "obj_id": 5},
        {"cam_R_m2c": np.eye(3).ravel().tolist(), "cam_t_m2c": [0, 0, 500], "obj_id": 2},
    ]
    (scene / "scene_gt.json").write_text(json.dumps({"7": gt}))
    models = root / "models"
    models.mkdir()
    info = {
        "2": {
            "diameter": 100.0,
            "symmetries_continuous": [{"axis": [0, 0, 1], "offset": [0, 0, 0]}],
        }
    }
    (models / "models_info.json").write_text(json.dumps(info))
    trimesh.creation.box([50, 50, 50]).export(models / "obj_000002.ply")
    return scene


def test_loader_reads_bop_files(tmp_path):
    write_bop_scene(tmp_path)
    frames = list(bop.iter_frames(tmp_path, "train_real", obj_ids=[2]))
    assert len(frames) == 1
    f = frames[0]
    assert (f.scene_id, f.im_id, f.gt_id, f.obj_id) == (3, 7, 1, 2)
    np.testing.assert_allclose(f.t_mm, [0, 0, 500])
    pts = bop.backproject(f)
    assert pts.shape == (6, 3)
    np.testing.assert_allclose(pts[:, 2], 500.0)
    np.testing.assert_allclose(sorted(set(pts[:, 0])), [-5.0, 0.0, 5.0])  # (u - cx) z / fx
    info = bop.read_models_info(tmp_path)
    assert bop.is_symmetric(info[2]) and info[2]["diameter"] == 100.0


def test_loader_targets_file_and_errors(tmp_path):
    write_bop_scene(tmp_path)
    (tmp_path / "targets.json").write_text(json.dumps([{"scene_id": 3, "im_id": 7, "obj_id": 5}]))
    assert list(bop.iter_frames(tmp_path, "train_real", [2], targets_file="targets.json")) == []
    with pytest.raises(FileNotFoundError, match="split directory"):
        list(bop.iter_frames(tmp_path, "test"))
    with pytest.raises(FileNotFoundError, match="visible mask"):
        list(bop.iter_frames(tmp_path, "train_real", [5]))  # no mask file for gt 0
    (tmp_path / "train_real" / "000003" / "scene_gt.json").write_text("{not json")
    with pytest.raises(ValueError, match="malformed scene_gt"):
        list(bop.iter_frames(tmp_path, "train_real"))


def test_synthetic_dataset_round_trip(tmp_path):
    """Depth read back by the loader and moved by the inverse true pose lies on the model."""
    cfg = SimpleNamespace(
        n_objects=2, train_frames=2, test_frames=1, image_hw=[90, 120], focal=110.0,
        max_rotation_deg=60.0, distance_mm=[600.0, 700.0], occlusion=[0.3, 0.3],
        background_mm=150.0, depth_noise_mm=0.0,
    )  # fmt: skip
    summary = synthetic.write_dataset(tmp_path, cfg, seed=0)
    assert summary["objects"] == ["mug", "lblock"]
    for name in ("scene_gt.json", "scene_camera.json", "scene_gt_info.json", "depth/000001.png"):
        assert (tmp_path / "train" / "000002" / name).exists()
    assert Image.open(tmp_path / "test/000001/depth/000000.png").mode.startswith("I;16")
    frames = list(bop.iter_frames(tmp_path, "train"))
    assert len(frames) == 4
    meshes = {i: trimesh.load(bop.model_path(tmp_path, i), force="mesh") for i in (1, 2)}
    for f in frames:
        pts = bop.backproject(f)
        in_model = (pts - f.t_mm) @ f.R  # R^T (p - t)
        tree = cKDTree(meshes[f.obj_id].sample(20000, seed=0))
        assert np.median(tree.query(in_model)[0]) < 3.0  # mm: depth quantisation and sampling
        full = (
            bop.read_png(
                tmp_path / "train" / f"{f.obj_id:06d}" / "mask" / f"{f.im_id:06d}_000000.png",
                "mask",
            )
            > 0
        )
        assert 0.55 < f.mask_visib.sum() / full.sum() < 0.85  # 30% hidden by the occluder


def test_data_script_reads_a_local_bop_dataset(tmp_path):
    """The paper-scale path (data.name=bop) on a small BOP set written here."""
    from papers.se3_registration.data import load, main

    cfg = SimpleNamespace(
        n_objects=2, train_frames=2, test_frames=2, image_hw=[90, 120], focal=110.0,
        max_rotation_deg=60.0, distance_mm=[600.0, 700.0], occlusion=[0.2, 0.2],
        background_mm=150.0, depth_noise_mm=1.0,
    )  # fmt: skip
    synthetic.write_dataset(tmp_path / "tudl", cfg, seed=1)
    out = tmp_path / "out"
    main([
        "scale=smoke", "data.name=bop", f"run.data_dir={tmp_path / 'tudl'}", "data.obj_ids=[2]",
        "data.n_store=64", "data.n_model_store=128", f"run.out_dir={out}",
    ])  # fmt: skip
    train, test, models = load(out)
    assert train["obs"].shape == (2, 64, 3) and test["obs"].shape == (2, 64, 3)
    assert models["points"].shape == (1, 128, 3) and list(models["obj_ids"]) == [2]
    np.testing.assert_allclose(train["obs"].mean(1), 0, atol=0.02)  # centred, metres
    assert not (out / "bop").exists()
