"""Zacharias–Giustino special displacements.

M. Zacharias and F. Giustino, Phys. Rev. B 94, 075125 (2016); Phys. Rev.
Research 2, 013357 (2020). One configuration

    u(j) = Σ_λ s_λ c_λ(j),   c_λ(j) = σ_λ e_λ(j) / √m_j,   s_λ = ±1,

whose mean-square displacements equal the thermal ones when the cross terms
Σ_{λ≠λ'} s_λ s_λ' c_λ(j)·c_λ'(j) cancel. ZG start from alternating signs over
the modes sorted by frequency; the signs are then improved here by greedy
single flips that minimise Σ_j (|u_j|² − ⟨|u_j|²⟩)², the per-atom error, as
ZG's optimised variant does with its error function.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def special_displacement(
    modes: NDArray[np.float64],
    rng: np.random.Generator | None = None,
    max_sweeps: int = 100,
) -> NDArray[np.float64]:
    """Return one ZG configuration, in Å, shape (N, 3).

    Parameters
    ----------
    modes
        c_λ = σ_λ e_λ/√m, in Å, shape (n_modes, N, 3), ordered by frequency.
    rng
        None for ZG's alternating start (+, −, +, …); a generator for a random
        start, which gives different but equally valid configurations.
    max_sweeps
        Upper bound on the number of improving flips, in units of n_modes.
    """
    n_modes = modes.shape[0]
    if rng is None:
        signs = np.where(np.arange(n_modes) % 2 == 0, 1.0, -1.0)
    else:
        signs = rng.choice([-1.0, 1.0], size=n_modes)
    target = np.einsum("mja,mja->j", modes, modes)
    u = np.einsum("m,mja->ja", signs, modes)
    for _ in range(max_sweeps * n_modes):
        error = np.sum((np.einsum("ja,ja->j", u, u) - target) ** 2)
        # Flipping mode m changes u to u - 2 s_m c_m: evaluate every flip at once.
        trial = u[None] - 2.0 * signs[:, None, None] * modes
        errors = np.sum((np.einsum("mja,mja->mj", trial, trial) - target) ** 2, axis=1)
        best = int(np.argmin(errors))
        if errors[best] >= error * (1 - 1e-12):
            break
        u = trial[best]
        signs[best] = -signs[best]
    return u
