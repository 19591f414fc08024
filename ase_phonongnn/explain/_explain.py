"""explain_prediction(): which edges a prediction relies on."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from ase import Atoms
from torch_geometric.data import Data

from ase_phonongnn import keys
from ase_phonongnn.explain._algorithms import gnnexplainer, integrated_gradients
from ase_phonongnn.explain._config import ExplainConfig, Method
from ase_phonongnn.explain._result import EdgeImportance, scale_unit_interval
from ase_phonongnn.graph import build_graph
from ase_phonongnn.model import EDGE_MASK, GraphModel

_GRAPH_KEYS = ("x", "z", "pos", "cell", "edge_index", "edge_shift")


def resolve_config(
    method: Method | None, seed: int | None, config: ExplainConfig | None
) -> ExplainConfig:
    """Return ``config`` (default :class:`ExplainConfig()`) with method and seed set."""
    if config is None:
        config = ExplainConfig()
    elif not isinstance(config, ExplainConfig):
        raise TypeError(
            f"config must be an ExplainConfig (got {type(config).__name__})"
        )
    changes: dict[str, object] = {}
    if method is not None:
        changes["method"] = method
    if seed is not None:
        changes["seed"] = seed
    return config.replace(**changes) if changes else config


def resolve_target(model: GraphModel, target: str | None) -> str:
    """Return the target to explain: ``target``, or the model's only one."""
    if not isinstance(model, GraphModel):
        raise TypeError(
            "model must be a GraphModel, e.g. from ase_phonongnn.load_model "
            f"(got {type(model).__name__})"
        )
    if target is None:
        if len(model.targets) != 1:
            raise ValueError(
                f"the model predicts {', '.join(model.targets)}; choose one with "
                "target=..."
            )
        return model.targets[0]
    if target not in model.targets:
        raise ValueError(
            f"target {target!r} is not predicted by this model; it predicts "
            f"{', '.join(model.targets)}"
        )
    return target


def model_graph(model: GraphModel, structure: Atoms | Data) -> Data:
    """Return the graph of a structure as the model needs it (dtype, device, cutoff).

    Raises
    ------
    UnknownElementError
        If the structure has an element the model does not know.
    ValueError
        If a given graph is batched, lacks attributes, or was built with
        another cutoff than the model's.
    """
    parameter = next(iter(model.parameters()), None)
    dtype = parameter.dtype if parameter is not None else torch.float32
    device = parameter.device if parameter is not None else torch.device("cpu")
    if isinstance(structure, Atoms):
        graph = build_graph(structure, cutoff=model.cutoff, dtype=dtype)
    elif isinstance(structure, Data):
        graph = _checked_graph(model, structure, dtype)
    else:
        raise TypeError(
            "structure must be an ase.Atoms or a graph from build_graph "
            f"(got {type(structure).__name__})"
        )
    graph = graph.to(device)
    model.species_indices(graph.z)
    return graph


def _checked_graph(model: GraphModel, data: Data, dtype: torch.dtype) -> Data:
    missing = [name for name in _GRAPH_KEYS if getattr(data, name, None) is None]
    if missing:
        raise ValueError(
            f"the graph lacks {', '.join(missing)}; build it with "
            "ase_phonongnn.build_graph(atoms, cutoff=model.cutoff)"
        )
    if getattr(data, "batch", None) is not None or data.cell.shape[0] != 1:
        raise ValueError(
            "explain one structure at a time (got a batch of graphs); use "
            "explain_dataset for several"
        )
    graph = data.clone()
    if EDGE_MASK in graph:
        del graph[EDGE_MASK]
    for name in ("x", "pos", "cell", "edge_shift", "edge_weight"):
        if getattr(graph, name, None) is not None:
            graph[name] = graph[name].to(dtype)
    atoms = Atoms(
        numbers=graph.z.cpu().numpy(),
        positions=graph.pos.detach().double().cpu().numpy(),
        cell=graph.cell[0].detach().double().cpu().numpy(),
        pbc=True,
    )
    reference = build_graph(atoms, cutoff=model.cutoff)
    n_given, n_model = (
        int(graph.edge_index.shape[1]),
        int(reference.edge_index.shape[1]),
    )
    if n_given != n_model:
        longest = float(graph.edge_weight.max()) if n_given else 0.0
        raise ValueError(
            f"the graph does not match the model's cutoff of {model.cutoff} Å: it "
            f"has {n_given} edges (longest {longest:.3f} Å) where the model's "
            f"cutoff gives {n_model}; build it with build_graph(atoms, "
            f"cutoff={model.cutoff}) or pass the Atoms"
        )
    return graph


@contextlib.contextmanager
def explaining(model: GraphModel) -> Iterator[None]:
    """Eval mode and frozen weights for the duration; both restored after."""
    training = model.training
    flags = [p.requires_grad for p in model.parameters()]
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        with torch.enable_grad():
            yield
    finally:
        for p, flag in zip(model.parameters(), flags, strict=True):
            p.requires_grad_(flag)
        model.train(training)


def explain_prediction(
    model: GraphModel,
    structure: Atoms | Data,
    target: str | None = None,
    method: Method | None = None,
    *,
    seed: int | None = None,
    config: ExplainConfig | None = None,
) -> EdgeImportance:
    """Return the importance of every edge of a structure for one prediction.

    Parameters
    ----------
    model
        A registered model (``ours`` or ``paper-1`` ... ``paper-6``), e.g. from
        :func:`~ase_phonongnn.model.load_model`. It is used in eval mode and
        left as it was.
    structure
        An ``ase.Atoms`` (its graph is built with the model's cutoff), or one
        graph from :func:`~ase_phonongnn.graph.build_graph` built with the
        model's cutoff (the importances then follow its edge order).
    target
        The output to explain (:data:`ase_phonongnn.keys.TARGETS`); may be
        omitted when the model predicts one target only.
    method
        ``"gnnexplainer"`` or ``"integrated-gradients"``; overrides
        ``config.method`` (default ``"gnnexplainer"``).
    seed
        Overrides ``config.seed`` (default 0); the same seed gives the same
        importances.
    config
        Further settings (:class:`ExplainConfig`).

    Returns
    -------
    EdgeImportance
        Raw values and importances scaled to [0, 1], with the element pair
        and length of every edge.

    Raises
    ------
    ValueError
        For an unknown method or target, a graph built with another cutoff,
        or a batch of graphs.
    UnknownElementError
        If the structure has an element the model does not know.
    TypeError
        If the model or structure is of the wrong type.
    """
    config = resolve_config(method, seed, config)
    target = resolve_target(model, target)
    graph = model_graph(model, structure)
    with explaining(model):
        with torch.no_grad():
            prediction = float(model(graph)[target][0])
        baseline: float | None = None
        if config.method == "gnnexplainer":
            raw = gnnexplainer(model, graph, target, config)
        else:
            raw, baseline = integrated_gradients(model, graph, target, config)
    return EdgeImportance(
        method=config.method,
        target=target,
        unit=keys.UNITS.get(target, ""),
        prediction=prediction,
        baseline_prediction=baseline,
        numbers=graph.z.cpu().numpy().astype(np.int64),
        positions=graph.pos.detach().double().cpu().numpy(),
        cell=graph.cell[0].detach().double().cpu().numpy(),
        edge_index=graph.edge_index.cpu().numpy().astype(np.int64),
        edge_shift=np.rint(graph.edge_shift.double().cpu().numpy()).astype(np.int64),
        distances=graph.edge_weight.detach().double().cpu().numpy(),
        raw=raw,
        importance=scale_unit_interval(np.abs(raw)),
        threshold=config.threshold,
        seed=config.seed,
    )


def explain_dataset(
    model: GraphModel,
    structures: Sequence[Atoms | Data],
    target: str | None = None,
    method: Method | None = None,
    *,
    seed: int | None = None,
    config: ExplainConfig | None = None,
    progress: bool = False,
) -> list[EdgeImportance]:
    """Explain the prediction of every structure (see :func:`explain_prediction`).

    Structure ``k`` is explained with seed ``seed + k``, so that GNNExplainer
    starts from a different mask on each and the whole set is reproducible.

    Returns
    -------
    list of EdgeImportance
        In the order of ``structures``; aggregate them with
        :func:`~ase_phonongnn.explain.aggregate_bond_types`.
    """
    from tqdm.auto import tqdm

    config = resolve_config(method, seed, config)
    if isinstance(structures, Atoms | Data):
        raise TypeError(
            "structures must be a sequence of structures; for one, use "
            "explain_prediction"
        )
    items = list(structures)
    if not items:
        raise ValueError("no structures to explain (got an empty sequence)")
    return [
        explain_prediction(
            model, item, target, config=config.replace(seed=config.seed + k)
        )
        for k, item in enumerate(tqdm(items, desc="explain", disable=not progress))
    ]
