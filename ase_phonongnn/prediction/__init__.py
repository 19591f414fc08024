"""Prediction: batched over structures and trajectories, and thermal averages.

- :func:`predict` evaluates a model (or a committee of models) on many
  structures, batched through PyTorch Geometric, on CUDA when present; it
  reads trajectory files that ``ase.io`` reads, and snapshot stores, lazily;
  :func:`iter_predictions` yields the results frame by frame and
  :func:`write_predictions` writes them to CSV, a store or any ``ase.io``
  format (results in ``atoms.info``, which ASE's writers keep).
- :func:`block_average` and :func:`time_averages`: means of MD time series
  with block-averaging error bars.
- :func:`evaluate`: MAE, RMSE and R² of what :func:`predict` gives, for any
  model or committee (the shipped default too), on labelled structures;
  :func:`calibrate_spread` scales a committee's spread to its error.
- :func:`thermal_averages`: ⟨Eg⟩(T), ⟨VBM⟩(T), ⟨σh⟩(T), ⟨E⟩(T) from thermal
  snapshots of the phonons (one set of force constants, or several
  renormalised at different temperatures: :func:`nearest_sampler`), with
  standard errors, and :func:`plot_thermal_averages`;
  :func:`composition_map`: the same across the solid solutions
  Ag3SBr_x I_(1-x), ⟨A⟩(T, x), as a :class:`CompositionMap`.

:func:`predict` is also ``ase_phonongnn.predict`` (``from ase_phonongnn
import predict``).

The calculator for single structures, ASE dynamics and optimisers is
:class:`ase_phonongnn.PhononGNNCalc`; both evaluate through
:class:`Committee`, so they agree to floating-point precision.
"""

from __future__ import annotations

from ase_phonongnn.prediction._batch import (
    ATOMS_PER_BATCH,
    attach_results,
    iter_predictions,
    predict,
    read_structures,
)
from ase_phonongnn.prediction._blocking import (
    BlockAverage,
    block_average,
    time_averages,
)
from ase_phonongnn.prediction._composition import (
    EIGHTHS,
    CompositionMap,
    composition_map,
)
from ase_phonongnn.prediction._config import PredictionConfig
from ase_phonongnn.prediction._errors import (
    DeviceUnavailableError,
    OutsideTrainingDataError,
    PredictionSetupError,
    UnsupportedElementError,
    UnsupportedStructureError,
)
from ase_phonongnn.prediction._evaluate import calibrate_spread, evaluate
from ase_phonongnn.prediction._models import (
    PROPERTIES,
    Committee,
    load_models,
    model_properties,
    resolve_device,
)
from ase_phonongnn.prediction._thermal import (
    ThermalAverages,
    plot_thermal_averages,
    thermal_averages,
)
from ase_phonongnn.prediction._writers import PredictionWriter, write_predictions
from ase_phonongnn.sample import nearest_sampler

__all__ = [
    "ATOMS_PER_BATCH",
    "EIGHTHS",
    "PROPERTIES",
    "BlockAverage",
    "Committee",
    "CompositionMap",
    "DeviceUnavailableError",
    "OutsideTrainingDataError",
    "PredictionConfig",
    "PredictionSetupError",
    "PredictionWriter",
    "ThermalAverages",
    "UnsupportedElementError",
    "UnsupportedStructureError",
    "attach_results",
    "block_average",
    "calibrate_spread",
    "composition_map",
    "evaluate",
    "iter_predictions",
    "load_models",
    "model_properties",
    "nearest_sampler",
    "plot_thermal_averages",
    "predict",
    "read_structures",
    "resolve_device",
    "thermal_averages",
    "time_averages",
    "write_predictions",
]
