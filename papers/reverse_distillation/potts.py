"""Random Potts models over the 20 amino acids and a Gibbs sampler vectorised across chains.

Energy E(s) = -sum_i h_i(s_i) - sum_{i<j} J_ij(s_i, s_j); samples follow p(s) ~ exp(-E(s)).
Couplings live on a sparse random "contact" graph (every site coupled to a few others;
``random_potts``) or on the offsets 1..r, one block per offset at every site
(``homogeneous_potts``), stored dense and symmetric (J[i, j, a, b] == J[j, i, b, a], zero
diagonal blocks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
Q = len(AMINO_ACIDS)


@dataclass
class Potts:
    h: np.ndarray  # (L, q) fields
    J: np.ndarray  # (L, L, q, q) couplings, symmetric, zero diagonal blocks

    @property
    def length(self) -> int:
        return self.h.shape[0]


def random_potts(
    rng: np.random.Generator, length: int, contacts: int, h_scale: float, j_scale: float
) -> Potts:
    """Gaussian fields, Gaussian couplings on ``contacts`` random partners per site."""
    h = rng.normal(0.0, h_scale, size=(length, Q))
    J = np.zeros((length, length, Q, Q))
    for i in range(length):
        others = np.delete(np.arange(length), i)
        for j in rng.choice(others, size=min(contacts, length - 1), replace=False):
            block = rng.normal(0.0, j_scale, size=(Q, Q))
            J[i, j] += block
            J[j, i] += block.T
    return Potts(h=h, J=J)


def homogeneous_potts(
    rng: np.random.Generator, length: int, offsets: int, h_scale: float, j_scale: float
) -> Potts:
    """A stationary family: one Gaussian field vector and one Gaussian coupling block per
    offset d = 1..``offsets``, the same at every site (J[i, i+d] == J_d).

    Its statistics depend on relative positions only, which ESM-2's rotary attention learns
    in a few hundred steps; site-specific fields need absolute positions and the family's
    identity, which tiny models trained that briefly do not learn (README).
    """
    h = np.tile(rng.normal(0.0, h_scale, size=Q), (length, 1))
    J = np.zeros((length, length, Q, Q))
    for d in range(1, min(offsets, length - 1) + 1):
        block = rng.normal(0.0, j_scale, size=(Q, Q))
        i = np.arange(length - d)
        J[i, i + d] = block
        J[i + d, i] = block.T
    return Potts(h=h, J=J)


def energy(potts: Potts, seqs: np.ndarray) -> np.ndarray:
    """E(s) for integer sequences ``seqs`` of shape (n, L)."""
    n, L = seqs.shape
    pos = np.arange(L)
    field = potts.h[pos, seqs].sum(axis=1)
    onehot = np.zeros((n, L, Q))
    onehot[np.arange(n)[:, None], pos, seqs] = 1.0
    pair = np.einsum("nia,ijab,njb->n", onehot, potts.J, onehot, optimize=True) / 2.0
    return -(field + pair)


def gibbs(
    potts: Potts,
    rng: np.random.Generator,
    chains: int,
    burn_in: int,
    samples_per_chain: int,
    thin: int,
) -> np.ndarray:
    """Sequences (chains * samples_per_chain, L) from ``chains`` Gibbs chains with random starts.

    One sweep updates every site in order, all chains at once; a chain is recorded every
    ``thin`` sweeps after ``burn_in`` sweeps.
    """
    L = potts.length
    seqs = rng.integers(0, Q, size=(chains, L))
    coupling = potts.J.transpose(0, 1, 3, 2)  # [i, j, b, a]: row s_j of site i's logits
    partners = [np.flatnonzero(np.abs(potts.J[i]).sum(axis=(1, 2))) for i in range(L)]
    out = []
    for sweep in range(burn_in + samples_per_chain * thin):
        for i in range(L):
            logits = np.repeat(potts.h[i][None], chains, axis=0)
            for j in partners[i]:  # only the coupled sites: J is sparse
                logits += coupling[i, j][seqs[:, j]]
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            cum = np.cumsum(p, axis=1)
            u = rng.random(chains)[:, None] * cum[:, -1:]
            seqs[:, i] = np.minimum((u > cum).sum(axis=1), Q - 1)
        if sweep >= burn_in and (sweep - burn_in + 1) % thin == 0:
            out.append(seqs.copy())
    return np.concatenate(out, axis=0)


def to_strings(seqs: np.ndarray) -> list[str]:
    """Integer sequences -> amino-acid strings."""
    letters = np.array(list(AMINO_ACIDS))
    return ["".join(row) for row in letters[seqs]]


def from_strings(strings: list[str]) -> np.ndarray:
    """Amino-acid strings of one length -> integer sequences."""
    index = {a: k for k, a in enumerate(AMINO_ACIDS)}
    return np.array([[index[a] for a in s] for s in strings], dtype=np.int64)
