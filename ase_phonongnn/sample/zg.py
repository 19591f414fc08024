"""Zacharias–Giustino special displacements.

M. Zacharias and F. Giustino, Phys. Rev. B 94, 075125 (2016); Phys. Rev.
Research 2, 013357 (2020). One configuration

    u(j) = Σ_λ s_λ c_λ(j),   c_λ(j) = σ_λ e_λ(j) / √m_j,   s_λ = ±1,

has the thermal mean-square displacements when the cross terms
Σ_{λ≠λ'} s_λ s_λ' c_λ(j)·c_λ'(j) cancel. ZG start from alternating signs over
the modes sorted by frequency and optimise the signs against an error
function. Here the signs are improved by greedy single flips (from ZG's
alternating start and a few random ones) that minimise

    E(s) = W Σ_g (⟨|u|²⟩_g / ⟨|u|²⟩_g,T − 1)² + (1/N) Σ_j (|u_j|² / ⟨|u_j|²⟩_T − 1)²,

g running over groups of atoms (the species), W = 100 so that the group means
come first. In a supercell of a few dozen
atoms there are too few modes for every per-atom cross term to cancel: the
group means are matched to about a percent, the per-atom values only as well
as the modes allow (tens of percent at 40 atoms, better in larger cells).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

#: W of the error function: matching the group means comes first.
GROUP_WEIGHT = 100.0


def special_displacement(
    modes: NDArray[np.float64],
    groups: NDArray[np.int_] | None = None,
    rng: np.random.Generator | None = None,
    n_starts: int = 8,
    max_sweeps: int = 100,
) -> NDArray[np.float64]:
    """Return one ZG configuration, in Å, shape (N, 3).

    Parameters
    ----------
    modes
        c_λ = σ_λ e_λ/√m, in Å, shape (n_modes, N, 3), ordered by frequency.
    groups
        Integer label per atom, shape (N,), e.g. the atomic numbers: the mean
        square displacement of each group is matched. None: one group.
    rng
        Draws the starting signs after the first start, which is ZG's
        alternating pattern (+, −, +, …); None makes the result deterministic.
    n_starts
        Number of starting sign patterns; the lowest-error result is returned.
    max_sweeps
        Upper bound on the number of improving flips, in units of n_modes.
    """
    n_modes, n_atoms = modes.shape[:2]
    labels = np.zeros(n_atoms, int) if groups is None else np.asarray(groups)
    _, group_index = np.unique(labels, return_inverse=True)
    one_hot = np.eye(group_index.max() + 1)[group_index]  # (N, n_groups)
    rng = np.random.default_rng(0) if rng is None else rng
    target = np.einsum("mja,mja->j", modes, modes)
    objective = _Objective(target, one_hot)
    best_u, best_error = np.zeros(modes.shape[1:]), np.inf
    for start in range(n_starts):
        if start == 0:
            signs = np.where(np.arange(n_modes) % 2 == 0, 1.0, -1.0)
        else:
            signs = rng.choice([-1.0, 1.0], size=n_modes)
        u, error = _descend(modes, signs, objective, max_sweeps)
        if error < best_error:
            best_u, best_error = u, error
    return best_u


class _Objective:
    """E(s) of the module docstring, for one or many trial configurations."""

    def __init__(self, target: NDArray[np.float64], one_hot: NDArray[np.float64]):
        self.target = target
        self.one_hot = one_hot / one_hot.sum(axis=0)  # group means
        self.group_target = target @ self.one_hot

    def __call__(self, msd: NDArray[np.float64]) -> NDArray[np.float64]:
        per_atom = np.mean((msd / self.target - 1.0) ** 2, axis=-1)
        per_group = np.sum((msd @ self.one_hot / self.group_target - 1.0) ** 2, axis=-1)
        return np.asarray(per_atom + GROUP_WEIGHT * per_group)


def _descend(
    modes: NDArray[np.float64],
    signs: NDArray[np.float64],
    objective: _Objective,
    max_sweeps: int,
) -> tuple[NDArray[np.float64], float]:
    """Greedy single sign flips from ``signs`` down to a local minimum."""
    n_modes = modes.shape[0]
    # Flipping mode m changes u to u - 2 s_m c_m, so that every atom's
    # |u_j|² changes by 4 (|c_mj|² - s_m u_j·c_mj): one (modes × atoms)
    # product per step evaluates every flip, without forming the trial
    # configurations.
    norms = np.einsum("mja,mja->mj", modes, modes)
    u = np.einsum("m,mja->ja", signs, modes)
    msd = np.einsum("ja,ja->j", u, u)
    error = float(objective(msd))
    for _ in range(max_sweeps * n_modes):
        overlap = np.einsum("ja,mja->mj", u, modes)
        trial = msd + 4.0 * (norms - signs[:, None] * overlap)
        errors = objective(trial)
        best = int(np.argmin(errors))
        if errors[best] >= error * (1 - 1e-12):
            break
        u = u - 2.0 * signs[best] * modes[best]
        msd, error = trial[best], float(errors[best])
        signs[best] = -signs[best]
    return u, error
