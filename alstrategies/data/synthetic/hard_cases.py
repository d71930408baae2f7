"""Hard cases of the phantom: which patients are hard, and how a normal patient is made hard.

See the *Hard cases* section of :mod:`alstrategies.data.synthetic`.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from alstrategies.data.synthetic.patient import _Patient

HARD_KINDS = ("low_contrast", "unusual_anatomy", "artefact")

_PRIORITY_PURPOSE = 3


def _make_hard(p: _Patient, kind: str, rng: np.random.Generator) -> tuple[_Patient, str]:
    """Turn a normal patient into a hard case of ``kind``; returns it and a detail string."""
    u = rng.uniform
    if kind == "low_contrast":
        # absolute blood - myocardium contrast 0.14-0.20 (normal patients: 0.33-0.80)
        f = u(0.14, 0.2) / (p.i_blood - p.i_myo)
        p = replace(
            p,
            i_blood=p.i_myo + (p.i_blood - p.i_myo) * f,
            i_rv=p.i_myo + (p.i_rv - p.i_myo) * f,
            i_aorta=p.i_myo + (p.i_aorta - p.i_myo) * f,
            noise=p.noise * u(1.6, 2.2),
            blur=p.blur * 1.3,
        )
        return p, "low_contrast"
    if kind == "unusual_anatomy":
        detail = ("dilated_lv", "hypertrophic", "large_rv")[int(rng.integers(3))]
        if detail == "dilated_lv":
            p = replace(
                p,
                lv_r0=p.lv_r0 * u(1.4, 1.6),
                lv_aspect=1.0 + (p.lv_aspect - 1.0) * 0.3,
                myo_t0=p.myo_t0 * u(0.5, 0.6),
                rv_depth=p.rv_depth * 0.8,
            )
        elif detail == "hypertrophic":
            p = replace(
                p,
                lv_r0=p.lv_r0 * u(0.45, 0.6),
                myo_t0=p.myo_t0 * u(1.8, 2.3),
                septal_thickening=u(0.3, 0.6),
                pap_size=p.pap_size * 1.5,
            )
        else:
            p = replace(
                p,
                rv_depth=min(0.45, p.rv_depth * u(1.8, 2.3)),
                rv_halfwidth=p.rv_halfwidth * 1.25,
                rv_zend=u(0.93, 0.98),
                lv_r0=p.lv_r0 * 0.9,
            )
        return p, detail
    if kind == "artefact":
        detail = ("ghosting", "dropout", "ghosting+dropout")[int(rng.choice(3, p=[0.4, 0.25, 0.35]))]
        if "ghosting" in detail:
            p = replace(
                p,
                ghost_alpha=u(0.25, 0.45),
                ghost_shift=u(0.18, 0.32),
                ghost_axis=int(rng.integers(2)),
            )
        if "dropout" in detail:
            p = replace(
                p,
                drop_depth=u(0.6, 0.85),
                drop_angle=u(0.0, np.pi),
                drop_offset=rng.normal(0.0, 0.06),
                drop_width=u(0.04, 0.08),
            )
        return p, detail
    raise ValueError(f"unknown hard kind {kind!r}")


def _hard_assignment(seed: int, stream: int, n: int, fraction: float) -> list[str]:
    """Hard kind per patient (``""`` for normal) for one split, see the package docstring."""
    if fraction <= 0.0:
        return [""] * n
    n_hard = min(n, max(1, math.ceil(fraction * n - 1e-9)))
    prio = np.array([np.random.default_rng([seed, stream, i, _PRIORITY_PURPOSE]).random() for i in range(n)])
    kinds = [""] * n
    for rank, idx in enumerate(np.argsort(prio, kind="stable")[:n_hard]):
        kinds[int(idx)] = HARD_KINDS[rank % len(HARD_KINDS)]
    return kinds
