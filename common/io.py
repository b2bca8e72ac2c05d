"""Atomic file writes, readers that name the file they cannot read, the metrics file format.

Every output goes through a temporary file in the same directory followed by
``os.replace``, so a killed job never leaves a half-written file that Snakemake
would mistake for a finished output.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:  # e.g. a read-only folder: name the output, not the folder
        raise _about(err, path) from None
    os.close(fd)
    tmp = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp
        tmp.chmod(0o666 & ~umask)  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp, path)
    except OSError as err:
        if err.filename not in (None, str(tmp)):
            raise
        raise _about(err, path) from None  # a full disk, a folder in the way: name the output
    finally:
        tmp.unlink(missing_ok=True)


def _about(err: OSError, path: Path) -> OSError:
    """The same OS error, about the output ``path`` (not the temp file the writer used)."""
    return type(err)(err.errno, err.strerror or str(err), str(path))


def _to_jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _to_jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON (NumPy values converted, NaN -> null)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_to_jsonable(obj), indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, naming the file if it is missing or malformed."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"missing file: {path}")
    try:
        return json.loads(path.read_text())
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"malformed JSON in {path}: {err}") from None


def unreadable(path: str | os.PathLike, err: BaseException | str) -> ValueError:
    """The one error for a file that exists but does not read back (truncated, garbage)."""
    reason = " ".join(str(err).split()).split(". ")[0][:160] or type(err).__name__
    return ValueError(
        f"cannot read {path} ({reason}): it is truncated or not the expected format; "
        "delete it and rerun the step that writes it"
    )


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_csv(path: str | os.PathLike, df) -> None:
    """Write a pandas DataFrame as CSV atomically (no index column)."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Save arrays to an uncompressed ``.npz`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load an ``.npz`` without pickle support (safe deserialization)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"missing file: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as err:
        # numpy takes a file without the zip or .npy magic for a pickle: say what it is
        raise unreadable(path, "not an .npz archive" if "pickle" in str(err) else err) from None
    except OSError as err:
        if err.filename is None:  # numpy's "Failed to interpret file ... as a pickle"
            raise unreadable(path, "not an .npz archive") from None
        raise


def save_torch(path: str | os.PathLike, obj: Any) -> None:
    """``torch.save`` atomically, byte-identical for identical ``obj``.

    Serialized to memory first: saved to the temp file, torch would store its random name.
    """
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def load_torch(path: str | os.PathLike) -> Any:
    """``torch.load(weights_only=True)`` on CPU, naming the file if it is missing or unreadable."""
    import pickle

    import torch

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"missing file: {path}")
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except (RuntimeError, ValueError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
        weights = "Weights only load failed" in str(err)  # torch's long advice is not ours to give
        raise unreadable(path, "not a weights-only torch file" if weights else err) from None


def read_csv(path: str | os.PathLike, columns: tuple[str, ...] = (), **kwargs: Any):
    """``pandas.read_csv``, naming the file if it is missing, unreadable or lacks ``columns``."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"missing file: {path}")
    try:
        df = pd.read_csv(path, **kwargs)
    except ValueError as err:  # EmptyDataError, ParserError, UnicodeDecodeError
        raise unreadable(path, err) from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise unreadable(path, KeyError(f"no column {missing[0]!r}"))
    return df


Metrics = dict[str, float | list[float]]


def write_metrics(path: str | os.PathLike, metrics: Metrics, meta: dict[str, Any]) -> None:
    """Write the metrics file: a flat map name -> number (or list per seed) plus ``_meta``."""
    for key, value in metrics.items():
        ok = isinstance(value, int | float | np.number) or (
            isinstance(value, list | tuple | np.ndarray)
            and all(isinstance(v, int | float | np.number) for v in np.ravel(value))
        )
        if not ok or key == "_meta":
            raise TypeError(f"metric {key!r} must be a number or a list of numbers, got {value!r}")
    write_json(path, {**metrics, "_meta": meta})


def read_metrics(path: str | os.PathLike) -> tuple[Metrics, dict[str, Any]]:
    """Read a metrics file into (metrics, meta)."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValueError(f"malformed metrics file {path}: expected a JSON object")
    meta = data.pop("_meta", {})
    return data, meta


def read_yaml(path: str | os.PathLike) -> Any:
    """Read a YAML file safely, naming the file if it is missing or malformed."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"missing file: {path}")
    try:
        return yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ValueError(f"malformed YAML in {path}: {' '.join(str(err).split())}") from None
