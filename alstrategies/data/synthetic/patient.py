"""The random parameters of one phantom patient and the order they are drawn in.

See :mod:`alstrategies.data.synthetic` for the generative model they parameterise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class _Patient:
    """All random parameters of one phantom patient (normalised units, see the package doc)."""

    # heart placement and size
    hx: float
    hy: float
    hdx: float
    hdy: float
    lv_r0: float
    lv_aspect: float
    lv_orient: float
    endo_amps: tuple[float, ...]
    endo_phases: tuple[float, ...]
    myo_t0: float
    thick_amps: tuple[float, ...]
    thick_phases: tuple[float, ...]
    septal_thickening: float
    pap_angles: tuple[float, float]
    pap_size: float
    # right ventricle
    rv_dir: float
    rv_halfwidth: float
    rv_depth: float
    rv_zend: float
    rv_power: float
    rv_amps: tuple[float, ...]
    rv_phases: tuple[float, ...]
    rv_wall: float
    fat_thick: float
    # body and organs
    body_c: tuple[float, float]
    body_axes: tuple[float, float]
    body_angle: float
    subcut: float
    liver: tuple[float, float, float, float]  # cx, cy, radius, angle
    stomach: tuple[float, float, float]  # cx, cy, radius
    blobs: tuple[tuple[float, float, float, float, float], ...]  # cx, cy, ax, ay, intensity
    blob_amps: tuple[float, ...]
    blob_phases: tuple[float, ...]
    body_amps: tuple[float, ...]
    body_phases: tuple[float, ...]
    lung_amps: tuple[float, ...]
    lung_phases: tuple[float, ...]
    vessels: tuple[tuple[float, float, float], ...]  # dx, dy (relative to heart), radius
    # intensities
    i_blood: float
    i_rv: float
    i_myo: float
    i_tissue: float
    i_fat: float
    i_lung: float
    i_liver: float
    i_stomach: float
    i_vert: float
    i_aorta: float
    # appearance
    tex_amp: float
    blur: float
    bias: tuple[float, ...]
    noise: float
    # hard-case modifiers (identity for normal patients)
    ghost_alpha: float = 0.0
    ghost_shift: float = 0.0
    ghost_axis: int = 1
    drop_depth: float = 0.0
    drop_angle: float = 0.0
    drop_offset: float = 0.0
    drop_width: float = 0.05


def _floats(values: np.ndarray) -> tuple[float, ...]:
    """Python floats (keeps float32 pixel arithmetic float32 under NumPy 2 promotion)."""
    return tuple(float(v) for v in values)


def _sample_patient(rng: np.random.Generator) -> _Patient:
    """Draw the normal (non-hard) parameters of one patient, in a fixed order."""
    u = rng.uniform
    n = rng.normal
    k = u(0.85, 1.15)
    rv_dir = np.pi + 0.25 + n(0.0, 0.2)
    lat = rv_dir + np.pi
    blobs = []
    for _ in range(int(rng.integers(2, 5))):
        ang = u(-np.pi, np.pi)
        rad = u(0.45, 0.8)
        blobs.append(
            (
                float(rad * np.cos(ang)),
                float(rad * 0.8 * np.sin(ang)),
                u(0.05, 0.12),
                u(0.05, 0.12),
                u(0.15, 0.7),
            )
        )
    i_blood = u(0.65, 0.95)
    return _Patient(
        hx=float(np.clip(n(0.02, 0.05), -0.1, 0.14)),
        hy=float(np.clip(n(-0.02, 0.05), -0.14, 0.1)),
        hdx=n(0.0, 0.03),
        hdy=n(0.0, 0.03),
        lv_r0=0.2 * k,
        lv_aspect=u(1.0, 1.18),
        lv_orient=u(0.0, np.pi),
        endo_amps=_floats(n(0.0, 0.025, size=3)),
        endo_phases=_floats(u(0.0, 2 * np.pi, size=3)),
        myo_t0=u(0.065, 0.095) * k,
        thick_amps=_floats(n(0.0, 0.12, size=3)),
        thick_phases=_floats(u(0.0, 2 * np.pi, size=3)),
        septal_thickening=0.0,
        pap_angles=(lat + u(0.5, 0.9), lat - u(0.5, 0.9)),
        pap_size=u(0.16, 0.22),
        rv_dir=rv_dir,
        rv_halfwidth=u(1.05, 1.35),
        rv_depth=u(0.16, 0.26) * k,
        rv_zend=u(0.76, 0.93),
        rv_power=u(0.45, 0.7),
        rv_amps=_floats(n(0.0, 0.06, size=3)),
        rv_phases=_floats(u(0.0, 2 * np.pi, size=3)),
        rv_wall=u(0.015, 0.025),
        fat_thick=max(0.0, u(-0.01, 0.035)),
        body_c=(n(0.0, 0.03), 0.06 + n(0.0, 0.03)),
        body_axes=(u(0.86, 0.96), u(0.68, 0.8)),
        body_angle=n(0.0, 0.08),
        subcut=u(0.03, 0.06),
        liver=(u(-0.45, -0.25), u(0.42, 0.55), u(0.28, 0.38), u(0.0, np.pi)),
        stomach=(u(0.3, 0.5), u(0.4, 0.55), u(0.12, 0.2)),
        blobs=tuple(blobs),
        blob_amps=_floats(n(0.0, 0.08, size=3)),
        blob_phases=_floats(u(0.0, 2 * np.pi, size=3)),
        body_amps=_floats(n(0.0, 0.025, size=3)),
        body_phases=_floats(u(0.0, 2 * np.pi, size=3)),
        lung_amps=_floats(n(0.0, 0.08, size=3)),
        lung_phases=_floats(u(0.0, 2 * np.pi, size=3)),
        vessels=tuple(
            (float(sgn * u(0.35, 0.75)), float(u(-0.6, 0.15)), float(u(0.012, 0.025)))
            for sgn in (1, 1, 1, -1, -1, -1)
        ),
        i_blood=i_blood,
        i_rv=i_blood * u(0.9, 1.02),
        i_myo=u(0.15, 0.32),
        i_tissue=u(0.3, 0.5),
        i_fat=u(0.65, 0.85),
        i_lung=u(0.02, 0.06),
        i_liver=u(0.28, 0.42),
        i_stomach=u(0.1, 0.8),
        i_vert=u(0.25, 0.4),
        i_aorta=i_blood * u(0.85, 1.0),
        tex_amp=u(0.06, 0.1),
        blur=u(0.5, 0.9),
        bias=_floats(n(0.0, 0.18, size=5)),
        noise=u(0.025, 0.05),
    )
