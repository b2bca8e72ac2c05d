"""The Potts model: energy bookkeeping and the Gibbs sampler's conditionals."""

import numpy as np

from papers.reverse_distillation.potts import (
    Q,
    energy,
    from_strings,
    gibbs,
    homogeneous_potts,
    random_potts,
    to_strings,
)


def brute_energy(potts, s):
    L = len(s)
    e = -sum(potts.h[i, s[i]] for i in range(L))
    e -= sum(potts.J[i, j, s[i], s[j]] for i in range(L) for j in range(i + 1, L))
    return e


def test_couplings_symmetric_and_energy_matches_brute_force():
    rng = np.random.default_rng(0)
    potts = random_potts(rng, 10, 3, 1.0, 0.5)
    assert np.allclose(potts.J, potts.J.transpose(1, 0, 3, 2))
    assert np.all(potts.J[np.arange(10), np.arange(10)] == 0)
    seqs = rng.integers(0, Q, size=(5, 10))
    np.testing.assert_allclose(energy(potts, seqs), [brute_energy(potts, s) for s in seqs])


def test_homogeneous_family_is_stationary():
    """One field vector and one coupling block per offset 1..r at every site, none beyond r."""
    rng = np.random.default_rng(6)
    potts = homogeneous_potts(rng, 12, 2, 1.0, 0.7)
    assert np.allclose(potts.h, potts.h[0])
    assert np.allclose(potts.J, potts.J.transpose(1, 0, 3, 2))
    for d in (1, 2):
        blocks = potts.J[np.arange(12 - d), np.arange(d, 12)]
        assert np.allclose(blocks, blocks[0]) and np.abs(blocks[0]).max() > 0
    assert np.all(potts.J[np.arange(9), np.arange(3, 12)] == 0)
    # a mutation's effect depends on its neighbourhood only, not on where it sits
    s = rng.integers(0, Q, size=12)
    shifted = np.concatenate([[0], s[:-1]])  # shifted[i + 1] == s[i]
    mut, mut_shifted = s.copy(), shifted.copy()
    mut[5] = mut_shifted[6] = (s[5] + 1) % Q
    effect = energy(potts, np.stack([mut, s]))
    effect_shifted = energy(potts, np.stack([mut_shifted, shifted]))
    assert np.isclose(effect[0] - effect[1], effect_shifted[0] - effect_shifted[1])
    seqs = rng.integers(0, Q, size=(5, 12))
    np.testing.assert_allclose(energy(potts, seqs), [brute_energy(potts, x) for x in seqs])


def test_single_site_energy_change_is_the_gibbs_conditional():
    """E(s with s_i=a) - E(s with s_i=b) = -(logit_a - logit_b), the sampler's logits."""
    rng = np.random.default_rng(1)
    potts = random_potts(rng, 8, 2, 1.0, 0.7)
    s = rng.integers(0, Q, size=8)
    i = 3
    logits = potts.h[i] + sum(potts.J[i, j, :, s[j]] for j in range(8))
    variants = np.repeat(s[None], Q, axis=0)
    variants[:, i] = np.arange(Q)
    e = energy(potts, variants)
    np.testing.assert_allclose(e - e[0], -(logits - logits[0]), atol=1e-10)


def test_gibbs_samples_are_low_energy_and_seeded():
    potts = random_potts(np.random.default_rng(2), 12, 3, 1.0, 0.5)
    a = gibbs(potts, np.random.default_rng(3), chains=50, burn_in=20, samples_per_chain=2, thin=2)
    b = gibbs(potts, np.random.default_rng(3), chains=50, burn_in=20, samples_per_chain=2, thin=2)
    assert a.shape == (100, 12) and np.array_equal(a, b)
    random = np.random.default_rng(4).integers(0, Q, size=(100, 12))
    assert energy(potts, a).mean() < energy(potts, random).mean() - 3.0


def test_string_round_trip():
    seqs = np.random.default_rng(5).integers(0, Q, size=(4, 9))
    assert np.array_equal(from_strings(to_strings(seqs)), seqs)
