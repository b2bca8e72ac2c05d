"""Per-seed merge of metrics files."""

import json

import pytest

from common.aggregate import main, merge
from common.io import write_metrics


def test_merge_keeps_complete_finite_metrics(tmp_path):
    a, b = tmp_path / "s0.json", tmp_path / "s1.json"
    write_metrics(a, {"x": 1.0, "y": 2.0, "z": float("nan")}, {})
    write_metrics(b, {"x": 3.0, "z": 1.0}, {})
    merged, dropped = merge([a, b])
    assert merged == {"x": [1.0, 3.0]} and dropped == ["y", "z"]


def test_cli_writes_lists_and_fails_cleanly(tmp_path):
    a = tmp_path / "s0.json"
    write_metrics(a, {"x": 1.5}, {})
    main(["--out", str(tmp_path / "m.json"), str(a)])
    assert json.loads((tmp_path / "m.json").read_text())["x"] == [1.5]
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(tmp_path / "n.json"), str(tmp_path / "missing.json")])
    assert exc.value.code == 2 and not (tmp_path / "n.json").exists()
