"""Procedural shapes with analytic inside/outside: unions of boxes, cylinders and ellipsoids.

A shape is an array of primitives, one row ``(kind, axis, cx, cy, cz, hx, hy, hz)``:
kind 0 box (half extents h), 1 cylinder along ``axis`` (half length h[axis], radii the
other two h), 2 ellipsoid (radii h). Four categories are composed from them with random
proportions inside [-0.45, 0.45]^3 (the ConvONet unit cube with padding); every part is at least
0.08 thick, about three cells of the cpu scale's 32^2 planes, so that occupancy IoU measures
reconstruction rather than sub-cell boundary error on parts one cell thick. Surface points
are sampled on every primitive by area and kept where no other primitive covers them
(a point just outside the primitive is outside all the others too).
"""

from __future__ import annotations

import numpy as np

BOX, CYL, ELL = 0, 1, 2
CATEGORIES = ("chair", "table", "airplane", "lamp")
FLOOR = -0.45


def prim(kind: int, center, half, axis: int = 1) -> np.ndarray:
    return np.array([kind, axis, *center, *half], dtype=np.float64)


def inside(prims: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """(n_prims, n_points) bool: point inside primitive (closed set)."""
    out = np.zeros((len(prims), len(pts)), dtype=bool)
    for i, row in enumerate(prims):
        kind, axis, c, h = int(row[0]), int(row[1]), row[2:5], row[5:8]
        q = (pts - c) / h
        if kind == BOX:
            out[i] = np.all(np.abs(q) <= 1.0, axis=1)
        elif kind == CYL:
            other = [a for a in range(3) if a != axis]
            out[i] = (np.abs(q[:, axis]) <= 1.0) & (np.sum(q[:, other] ** 2, axis=1) <= 1.0)
        else:
            out[i] = np.sum(q**2, axis=1) <= 1.0
    return out


def occupancy(prims: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Inside the union of the primitives."""
    return inside(prims, pts).any(axis=0)


def _area(row: np.ndarray) -> float:
    kind, axis, h = int(row[0]), int(row[1]), row[5:8]
    if kind == BOX:
        return 8.0 * (h[0] * h[1] + h[1] * h[2] + h[0] * h[2])
    if kind == CYL:
        r = np.delete(h, axis)
        return 2 * np.pi * r.mean() * 2 * h[axis] + 2 * np.pi * r[0] * r[1]
    p = 1.6075  # Knud Thomsen's approximation of an ellipsoid's area
    a, b, c = h
    return 4 * np.pi * (((a * b) ** p + (a * c) ** p + (b * c) ** p) / 3) ** (1 / p)


def _sample_prim(row: np.ndarray, n: int, rng: np.random.Generator):
    """n points and outward unit normals on one primitive's surface."""
    kind, axis, c, h = int(row[0]), int(row[1]), row[2:5], row[5:8]
    if kind == BOX:
        areas = np.array([h[1] * h[2], h[0] * h[2], h[0] * h[1]])
        ax = rng.choice(3, size=n, p=areas / areas.sum())
        sign = rng.choice([-1.0, 1.0], size=n)
        q = rng.uniform(-1, 1, size=(n, 3))
        q[np.arange(n), ax] = sign
        nrm = np.zeros((n, 3))
        nrm[np.arange(n), ax] = sign
        return c + q * h, nrm
    if kind == CYL:
        other = [a for a in range(3) if a != axis]
        r = h[other]
        side = 2 * np.pi * r.mean() * 2 * h[axis]
        cap = 2 * np.pi * r[0] * r[1]
        on_side = rng.random(n) < side / (side + cap)
        th = rng.uniform(0, 2 * np.pi, n)
        rad = np.where(on_side, 1.0, np.sqrt(rng.random(n)))
        q = np.zeros((n, 3))
        q[:, other[0]], q[:, other[1]] = rad * np.cos(th), rad * np.sin(th)
        sign = rng.choice([-1.0, 1.0], size=n)
        q[:, axis] = np.where(on_side, rng.uniform(-1, 1, n), sign)
        nrm = np.zeros((n, 3))
        nrm[:, other[0]] = np.where(on_side, np.cos(th) / r[0], 0.0)
        nrm[:, other[1]] = np.where(on_side, np.sin(th) / r[1], 0.0)
        nrm[:, axis] = np.where(on_side, 0.0, sign)
    else:
        q = rng.normal(size=(n, 3))
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        nrm = q / h
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    return c + q * h, nrm


def sample_surface(prims: np.ndarray, n: int, rng: np.random.Generator):
    """(points, normals) of n points on the union's surface (area-weighted over primitives)."""
    areas = np.array([_area(r) for r in prims])
    pts, nrms = [], []
    while sum(len(p) for p in pts) < n:
        counts = rng.multinomial(2 * n, areas / areas.sum())
        for i, row in enumerate(prims):
            p, q = _sample_prim(row, counts[i], rng)
            ins = inside(np.delete(prims, i, axis=0), p + 1e-4 * q)  # covered by another one
            keep = ~ins.any(axis=0) if len(prims) > 1 else np.ones(len(p), bool)
            pts.append(p[keep])
            nrms.append(q[keep])
    pts, nrms = np.concatenate(pts), np.concatenate(nrms)
    idx = rng.choice(len(pts), size=n, replace=False)
    return pts[idx].astype(np.float32), nrms[idx].astype(np.float32)


def _legs(rng, x, z, top, t, round_legs):
    """Four legs from the floor to height ``top`` at (+-x, +-z)."""
    h = (top - FLOOR) / 2
    kind = CYL if round_legs else BOX
    return [prim(kind, (sx * x, FLOOR + h, sz * z), (t, h, t)) for sx in (-1, 1) for sz in (-1, 1)]


def chair(rng: np.random.Generator) -> np.ndarray:
    w, d, t = rng.uniform(0.22, 0.36), rng.uniform(0.22, 0.36), rng.uniform(0.05, 0.07)
    seat_y = rng.uniform(-0.12, 0.05)
    leg = rng.uniform(0.05, 0.07)
    parts = [prim(BOX, (0, seat_y, 0), (w, t, d))]
    parts += _legs(rng, w - leg, d - leg, seat_y - t, leg, rng.random() < 0.4)
    back_h = rng.uniform(0.12, (0.45 - seat_y - t) / 2)
    back_t = rng.uniform(0.05, 0.07)
    parts.append(prim(BOX, (0, seat_y + t + back_h, -d + back_t), (w, back_h, back_t)))
    if rng.random() < 0.4:  # armrests
        arm_h = rng.uniform(0.06, 0.1)
        for s in (-1, 1):
            parts.append(prim(BOX, (s * (w - 0.04), seat_y + t + arm_h, 0), (0.05, arm_h, d)))
    return np.stack(parts)


def table(rng: np.random.Generator) -> np.ndarray:
    top_y, t = rng.uniform(-0.05, 0.2), rng.uniform(0.05, 0.07)
    if rng.random() < 0.5:
        w, d = rng.uniform(0.3, 0.44), rng.uniform(0.2, 0.44)
        parts = [prim(BOX, (0, top_y, 0), (w, t, d))]
        leg = rng.uniform(0.05, 0.07)
        parts += _legs(rng, w - leg - 0.02, d - leg - 0.02, top_y - t, leg, rng.random() < 0.5)
    else:  # round top on a pedestal
        r = rng.uniform(0.25, 0.44)
        parts = [prim(CYL, (0, top_y, 0), (r, t, r))]
        ped = rng.uniform(0.05, 0.08)
        h = (top_y - t - FLOOR) / 2
        parts.append(prim(CYL, (0, FLOOR + h, 0), (ped, h, ped)))
        base = rng.uniform(0.12, 0.25)
        parts.append(prim(CYL, (0, FLOOR + 0.04, 0), (base, 0.04, base)))
    return np.stack(parts)


def airplane(rng: np.random.Generator) -> np.ndarray:
    length, rad = rng.uniform(0.33, 0.44), rng.uniform(0.07, 0.1)
    parts = [prim(ELL, (0, 0, 0), (length, rad, rad))]
    span, chord = rng.uniform(0.3, 0.44), rng.uniform(0.08, 0.14)
    wx = rng.uniform(-0.1, 0.08)
    parts.append(prim(BOX, (wx, rng.uniform(-0.02, 0.02), 0), (chord, 0.04, span)))
    tail_x = -length + rng.uniform(0.04, 0.08)
    fin_h = rng.uniform(0.07, 0.14)
    parts.append(prim(BOX, (tail_x, rad * 0.5 + fin_h, 0), (0.06, fin_h, 0.04)))
    parts.append(prim(BOX, (tail_x, rad * 0.5, 0), (0.05, 0.04, rng.uniform(0.1, 0.18))))
    if rng.random() < 0.5:  # engines under the wings
        ez = rng.uniform(0.12, span - 0.05)
        for s in (-1, 1):
            parts.append(prim(CYL, (wx, -0.08, s * ez), (0.07, 0.045, 0.045), axis=0))
    return np.stack(parts)


def lamp(rng: np.random.Generator) -> np.ndarray:
    base_r, base_h = rng.uniform(0.1, 0.2), rng.uniform(0.04, 0.06)
    parts = [prim(CYL, (0, FLOOR + base_h, 0), (base_r, base_h, base_r))]
    top = rng.uniform(0.05, 0.3)
    pole = rng.uniform(0.045, 0.065)
    h = (top - FLOOR) / 2
    parts.append(prim(CYL, (0, FLOOR + h, 0), (pole, h, pole)))
    shade_r, shade_h = rng.uniform(0.1, 0.22), rng.uniform(0.06, 0.13)
    cy = min(top + shade_h * 0.5, 0.45 - shade_h)
    if rng.random() < 0.5:
        parts.append(prim(CYL, (0, cy, 0), (shade_r, shade_h, shade_r)))
    else:
        parts.append(prim(ELL, (0, cy, 0), (shade_r, shade_h, shade_r)))
    return np.stack(parts)


MAKERS = {"chair": chair, "table": table, "airplane": airplane, "lamp": lamp}


def make_shape(category: str, rng: np.random.Generator) -> np.ndarray:
    """Primitives of one random shape of ``category``."""
    return MAKERS[category](rng)
