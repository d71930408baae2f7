"""Procedural, seeded, ACDC-like short-axis cardiac cine-MR phantom (dataset ``synthetic``).

This is the embedded default dataset of the benchmark: it needs no download, is fully
deterministic given its arguments and is generated in well under a second at 64 x 64.  It is
meant to *behave* like ACDC for active learning (same label set, 2D slice pool grouped by
patient, 3D test volumes, a minority of atypical patients), not to be anatomically exact.

Generative model
----------------
Coordinates are normalised to ``[-1, 1]`` over a square field of view of ``FOV_MM`` (256 mm),
so the in-plane spacing is ``256 / image_size`` mm; slices are ``SLICE_THICKNESS_MM`` (10 mm)
apart.  Each patient is a stack of ``slices_per_patient`` short-axis slices at relative
positions ``z = 0`` (base) ... ``z = 1`` (apex).  Labels follow ACDC: 0 background, 1 RV
(right-ventricular cavity), 2 MYO (left-ventricular myocardium), 3 LV (left-ventricular
cavity, papillary muscles included).

*Anatomy* (per patient, drawn from ``default_rng([seed, stream, index])``):

- LV cavity: an ellipse (aspect 1-1.18, random orientation) whose radius is perturbed by a
  smooth Fourier series (orders 2-4); mean radius ``0.19 * k`` (``k`` ~ U(0.85, 1.15) is the
  heart-size factor) at the base, shrinking as ``1 - 0.62 z^1.5`` toward the apex.
- MYO: a ring outside the cavity whose thickness (``~U(0.065, 0.095) * k``) varies smoothly
  around the ring (Fourier orders 1-3) and thins slightly toward the apex.  Two small dark
  papillary muscles sit inside the cavity in mid-ventricular slices (labelled LV, as in ACDC).
- RV: a bright crescent attached to the septal side of the epicardium, centred on a direction
  pointing left and slightly up in the image (radiological convention) with random rotation;
  angular half-width ~60-77 degrees, radial depth ``~U(0.16, 0.26) * k``, shape exponent and a
  Fourier-perturbed outer wall.  It shrinks toward the apex and vanishes at ``z >= z_end``
  (``z_end ~ U(0.76, 0.93)``), i.e. it is absent in the last one or two slices.  A thin dark
  (unlabelled) RV free wall and an optional band of bright epicardial fat surround the heart.
- The heart centre is randomly placed (about +-0.1) and drifts slightly from base to apex.
- Body: a large ellipse of mid-grey tissue with a bright subcutaneous fat rim, a liver and a
  stomach below the heart (growing toward the apex), 2-4 random Fourier "organ" blobs, a
  vertebra, a bright descending aorta and two dark lung regions lateral to the heart.

*Appearance* (noise from a separate stream ``default_rng([seed, stream, index, 1])``):
bSSFP-like intensities (bright blood, dark myocardium, grey tissue, bright fat, black air and
lungs, all varying per patient); multiplicative correlated texture (gaussian-filtered noise,
6-10 %); partial-volume blur (gaussian, ~0.5-0.9 px at 64 px, scaled with the resolution);
a smooth multiplicative bias field (exponential of a random quadratic); Rician noise
(``|s + n1 + i n2|``, sigma 2.5-5 % of the signal maximum); finally each volume is min-max
normalised to ``[0, 1]`` as in the SSL4MIS ACDC preprocessing.  Labels are computed from the
un-blurred geometry at the same resolution as the image.

Hard cases
----------
``ceil(hard_fraction * n)`` patients of each split (at least one when ``hard_fraction > 0``)
are *hard*.  They are the patients with the lowest priority ``default_rng([seed, stream,
index, 3]).random()`` (so the hard set is stable-ish as counts change) and are assigned the
kinds below in turn (rank 0 ``low_contrast``, rank 1 ``unusual_anatomy``, rank 2 ``artefact``,
rank 3 ``low_contrast`` ...), so every kind appears once there are three hard patients.  Hard
parameters come from a third stream ``default_rng([seed, stream, index, 2])``, so the base
anatomy of a patient is the same whether or not it is hard.

- ``low_contrast``: blood/myocardium contrast reduced to 0.14-0.20 (normal patients 0.33-0.80,
  in pre-normalisation signal units), 1.6-2.2x stronger noise and 1.3x more blur (e.g. poor
  SSFP off-resonance performance).
- ``unusual_anatomy``: one of ``dilated_lv`` (cavity 1.4-1.6x larger, rounder, wall 0.5-0.6x
  thinner), ``hypertrophic`` (cavity 0.45-0.6x, wall 1.8-2.3x thicker with asymmetric septal
  thickening), ``large_rv`` (RV 1.8-2.3x deeper, 1.25x wider, reaching closer to the apex).
- ``artefact``: ``ghosting`` (periodic-motion ghosts: faint copies of the whole image shifted
  by 18-32 % of the field of view along the phase-encoding axis, +-1 and +-2 orders, smeared),
  ``dropout`` (a dark signal-dropout band of 4-8 % width crossing near the heart), or
  ``ghosting+dropout``.

``info`` holds ``description``, ``hard_kinds``, per pool slice ``hard`` (bool),
``hard_kind`` and ``hard_detail`` (str, ``""`` for normal) and ``slice_position`` (z), and per
test volume ``test_hard_kind`` and ``test_hard_detail``.  Train patients use stream 0 and test
patients stream 1, so the two splits are disjoint and a patient does not change when the
patient counts change.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from numbers import Integral, Real

import numpy as np
from scipy.ndimage import gaussian_filter, gaussian_filter1d

from alstrategies.types import SegmentationData, Volume

__all__ = [
    "CLASS_NAMES",
    "FOV_MM",
    "HARD_KINDS",
    "SLICE_THICKNESS_MM",
    "load_synthetic",
]

CLASS_NAMES = ["RV", "MYO", "LV"]
HARD_KINDS = ("low_contrast", "unusual_anatomy", "artefact")
FOV_MM = 256.0
SLICE_THICKNESS_MM = 10.0

_TRAIN_STREAM = 0
_TEST_STREAM = 1
_NOISE_PURPOSE = 1
_HARD_PURPOSE = 2
_PRIORITY_PURPOSE = 3

_BG, _RV, _MYO, _LV = 0, 1, 2, 3


@dataclass(frozen=True)
class _Patient:
    """All random parameters of one phantom patient (normalised units, see module doc)."""

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


def _fourier(
    cos1: np.ndarray, sin1: np.ndarray, amps: tuple[float, ...], phases: tuple[float, ...], first: int
) -> np.ndarray:
    """Smooth periodic perturbation ``sum_j a_j cos((first + j) phi + p_j)``, ``first >= 1``.

    Takes ``cos(phi)`` and ``sin(phi)`` and builds the harmonics with the angle-addition
    recurrence (multiplications only, no trigonometric calls on the pixel grid).
    """
    out = np.zeros_like(cos1)
    ck, sk = cos1, sin1
    for k in range(1, first + len(amps)):
        if k > 1:
            ck, sk = ck * cos1 - sk * sin1, sk * cos1 + ck * sin1
        if k >= first:
            amp, ph = amps[k - first], phases[k - first]
            out += float(amp * np.cos(ph)) * ck - float(amp * np.sin(ph)) * sk
    return out


def _blob(x, y, cx, cy, ax, ay, angle=0.0, amps=(), phases=()) -> np.ndarray:
    """Boolean mask of a rotated ellipse whose radius is Fourier-perturbed (orders 2, 3, ...)."""
    dx, dy = x - cx, y - cy
    c, s = float(np.cos(angle)), float(np.sin(angle))
    uu = (dx * c + dy * s) / ax
    vv = (-dx * s + dy * c) / ay
    rho = np.sqrt(uu * uu + vv * vv)
    if len(amps):
        inv = 1.0 / np.maximum(rho, 1e-9)
        rho = rho / np.maximum(1.0 + _fourier(uu * inv, vv * inv, amps, phases, 2), 0.2)
    return rho < 1.0


def _render_patient(
    p: _Patient, size: int, depth: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Render one patient: image ``D x S x S`` float32 in [0, 1] and labels uint8."""
    shape = (depth, size, size)
    # float32 throughout: about 2.5x faster than float64 on the pixel grid
    c = ((np.arange(size) + 0.5) / size * 2.0 - 1.0).astype(np.float32)
    x = np.broadcast_to(c[None, None, :], shape)
    y = np.broadcast_to(c[None, :, None], shape)
    z = (np.linspace(0.0, 1.0, depth) if depth > 1 else np.zeros(1)).astype(np.float32)
    z = z[:, None, None]
    img = np.zeros(shape, dtype=np.float32)

    # ---------------- body and organs ----------------
    bx, by = p.body_c
    ba, bb = p.body_axes
    body = _blob(x, y, bx, by, ba, bb, p.body_angle, p.body_amps, p.body_phases)
    inner = _blob(x, y, bx, by, ba - p.subcut, bb - p.subcut, p.body_angle, p.body_amps, p.body_phases)
    img[body] = p.i_fat
    img[inner] = p.i_tissue
    lx, ly, lr, la = p.liver
    liver = _blob(x, y, lx, ly, lr * (0.8 + 0.4 * z), lr * 0.75 * (0.8 + 0.4 * z), la)
    img[liver & inner] = p.i_liver
    sx, sy, sr = p.stomach
    img[_blob(x, y, sx, sy, sr * (0.7 + 0.6 * z), sr * (0.7 + 0.6 * z)) & inner] = p.i_stomach
    for bcx, bcy, bax, bay, bint in p.blobs:
        m = _blob(x, y, bcx, bcy + 0.05 * z, bax, bay, 0.0, p.blob_amps, p.blob_phases)
        img[m & inner] = bint * p.i_tissue / 0.4
    vert = _blob(x, y, bx + 0.02, by + bb - 0.2, 0.1, 0.09)
    img[vert & inner] = p.i_vert
    hx = p.hx + p.hdx * z
    hy = p.hy + p.hdy * z
    img[_blob(x, y, hx + 0.18, hy + 0.38, 0.055, 0.055) & inner] = p.i_aorta
    la, lp = p.lung_amps, p.lung_phases
    lungs = _blob(x, y, hx + 0.5, hy - 0.12, 0.22, 0.36 * (1.0 - 0.2 * z), 0.3, la, lp)
    lungs |= _blob(x, y, hx - 0.62, hy - 0.3, 0.2, 0.28 * (1.0 - 0.2 * z), -0.4, la, lp)
    lungs &= inner
    img[lungs] = p.i_lung
    for vx, vy, vr in p.vessels:  # pulmonary vessels: small grey dots inside the lungs
        img[lungs & ((x - hx - vx) ** 2 + (y - hy - vy) ** 2 < vr * vr)] = 0.7 * p.i_tissue

    # ---------------- heart ----------------
    dx, dy = x - hx, y - hy
    r = np.sqrt(dx * dx + dy * dy)
    inv_r = 1.0 / np.maximum(r, 1e-9)
    cphi, sphi = dx * inv_r, dy * inv_r
    co, so = float(np.cos(p.lv_orient)), float(np.sin(p.lv_orient))
    c_rel = cphi * co + sphi * so
    s_rel = sphi * co - cphi * so
    ell = 1.0 / np.sqrt(c_rel * c_rel / p.lv_aspect + p.lv_aspect * s_rel * s_rel)
    lv_scale = 1.0 - 0.62 * z**1.5
    r_endo = p.lv_r0 * lv_scale * ell * (1.0 + _fourier(cphi, sphi, p.endo_amps, p.endo_phases, 2))
    # angle relative to the RV direction, in (-pi, pi]
    cr, sr = float(np.cos(p.rv_dir)), float(np.sin(p.rv_dir))
    c_rv = cphi * cr + sphi * sr
    s_rv = sphi * cr - cphi * sr
    dphi = np.arctan2(s_rv, c_rv)
    thick = np.clip(1.0 + _fourier(cphi, sphi, p.thick_amps, p.thick_phases, 1), 0.6, 1.6)
    thick = thick * (1.0 + p.septal_thickening * np.clip(c_rv, 0.0, None) ** 2)
    r_epi = r_endo + p.myo_t0 * (1.0 - 0.25 * z) * thick

    halfwidth = p.rv_halfwidth * (1.0 - 0.25 * z)
    across = np.clip(1.0 - (dphi / halfwidth) ** 2, 0.0, None)
    rv_z = np.sqrt(np.clip(1.0 - (z / p.rv_zend) ** 2, 0.0, None))
    rv_h = p.rv_depth * rv_z * across**p.rv_power
    rv_h = rv_h * (1.0 + _fourier(c_rv, s_rv, p.rv_amps, p.rv_phases, 1))
    rv_out = r_epi + rv_h
    in_rv = (r >= r_epi) & (r < rv_out) & (rv_h > 0)
    rv_wall = (r >= rv_out) & (r < rv_out + p.rv_wall) & (rv_h > 0)
    fat = (r < np.maximum(r_epi, rv_out + p.rv_wall * (rv_h > 0)) + p.fat_thick) & body

    img[fat] = p.i_fat
    img[rv_wall] = p.i_myo
    img[in_rv] = p.i_rv
    myo = r < r_epi
    img[myo] = p.i_myo
    lv = r < r_endo
    img[lv] = p.i_blood
    # papillary muscles in mid-ventricular slices (labelled LV)
    pap_r = p.pap_size * p.lv_r0 * lv_scale * np.clip(np.sin(np.pi * z) * 1.6 - 0.4, 0.0, 1.0)
    pap = np.zeros(shape, dtype=bool)
    for a in p.pap_angles:
        px = hx + 0.62 * p.lv_r0 * lv_scale * float(np.cos(a))
        py = hy + 0.62 * p.lv_r0 * lv_scale * float(np.sin(a))
        pap |= (x - px) ** 2 + (y - py) ** 2 < pap_r**2
    img[pap & lv] = p.i_myo + 0.15 * (p.i_blood - p.i_myo)

    label = np.zeros(shape, dtype=np.uint8)
    label[in_rv] = _RV
    label[myo] = _MYO
    label[lv] = _LV

    # ---------------- appearance ----------------
    scale = size / 64.0
    tex = gaussian_filter(rng.standard_normal(shape, dtype=np.float32), (0.6, 1.5 * scale, 1.5 * scale))
    tex /= tex.std() + 1e-12
    img *= 1.0 + p.tex_amp * tex
    img = gaussian_filter(img, (0.0, p.blur * scale, p.blur * scale))
    b = p.bias
    bias = np.exp(b[0] * x + b[1] * y + b[2] * x * x + b[3] * y * y + b[4] * x * y)
    img *= bias / bias[body].mean()
    if p.ghost_alpha > 0:
        axis = 1 + p.ghost_axis
        shift = max(1, round(p.ghost_shift * size))
        # per-slice ghost strength (breath-holds differ), deterministic from the noise stream
        alpha = p.ghost_alpha * rng.uniform(0.6, 1.2, size=(depth, 1, 1)).astype(np.float32)
        ghosts = np.zeros(shape, dtype=np.float32)
        for order, w in ((1, 1.0), (2, 0.45)):
            ghosts += w * (np.roll(img, order * shift, axis) + np.roll(img, -order * shift, axis))
        ghosts = gaussian_filter1d(ghosts, 1.0 * scale, axis=axis)
        img = img + 0.5 * alpha * ghosts
    if p.drop_depth > 0:
        ca, sa = float(np.cos(p.drop_angle)), float(np.sin(p.drop_angle))
        along = (x - hx) * ca + (y - hy) * sa - p.drop_offset
        img *= 1.0 - p.drop_depth * np.exp(-0.5 * (along / p.drop_width) ** 2)
    sigma = p.noise * float(img.max())
    n1 = rng.standard_normal(shape, dtype=np.float32) * sigma
    n2 = rng.standard_normal(shape, dtype=np.float32) * sigma
    img = np.sqrt((img + n1) ** 2 + n2**2)
    lo, hi = float(img.min()), float(img.max())
    img = (img - lo) / max(hi - lo, 1e-12)
    return img.astype(np.float32), label


def _hard_assignment(seed: int, stream: int, n: int, fraction: float) -> list[str]:
    """Hard kind per patient (``""`` for normal) for one split, see the module docstring."""
    if fraction <= 0.0:
        return [""] * n
    n_hard = min(n, max(1, math.ceil(fraction * n - 1e-9)))
    prio = np.array([np.random.default_rng([seed, stream, i, _PRIORITY_PURPOSE]).random() for i in range(n)])
    kinds = [""] * n
    for rank, idx in enumerate(np.argsort(prio, kind="stable")[:n_hard]):
        kinds[int(idx)] = HARD_KINDS[rank % len(HARD_KINDS)]
    return kinds


def _generate_split(seed: int, stream: int, n: int, size: int, depth: int, fraction: float):
    """Images, labels, hard kinds and details of the ``n`` patients of one split."""
    kinds = _hard_assignment(seed, stream, n, fraction)
    images, labels, details = [], [], []
    for i in range(n):
        p = _sample_patient(np.random.default_rng([seed, stream, i]))
        detail = ""
        if kinds[i]:
            p, detail = _make_hard(p, kinds[i], np.random.default_rng([seed, stream, i, _HARD_PURPOSE]))
        img, lab = _render_patient(p, size, depth, np.random.default_rng([seed, stream, i, _NOISE_PURPOSE]))
        images.append(img)
        labels.append(lab)
        details.append(detail)
    return images, labels, kinds, details


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@functools.lru_cache(maxsize=8)
def _build(
    image_size: int,
    train_patients: int,
    test_patients: int,
    slices_per_patient: int,
    hard_fraction: float,
    seed: int,
) -> SegmentationData:
    """Generate the dataset (cached; every array is made read-only)."""
    size, depth = image_size, slices_per_patient
    tr_img, tr_lab, tr_kind, tr_detail = _generate_split(
        seed, _TRAIN_STREAM, train_patients, size, depth, hard_fraction
    )
    te_img, te_lab, te_kind, te_detail = _generate_split(
        seed, _TEST_STREAM, test_patients, size, depth, hard_fraction
    )
    pool_images = np.concatenate(tr_img)[:, None]
    pool_labels = np.concatenate(tr_lab)
    names = [f"synth_train_{i:03d}" for i in range(train_patients)]
    groups = np.repeat(np.array(names), depth)
    hard_kind = np.repeat(np.array(tr_kind, dtype=f"<U{len('unusual_anatomy')}"), depth)
    hard_detail = np.repeat(np.array(tr_detail, dtype="<U32"), depth)
    zpos = np.linspace(0.0, 1.0, depth) if depth > 1 else np.zeros(1)
    inplane = FOV_MM / size
    spacing = (SLICE_THICKNESS_MM, inplane, inplane)
    volumes = [
        Volume(f"synth_test_{i:03d}", _readonly(img), _readonly(lab), spacing)
        for i, (img, lab) in enumerate(zip(te_img, te_lab, strict=True))
    ]
    info = {
        "description": (
            "Procedural ACDC-like short-axis cine-MR phantom (seeded, no download) with "
            f"{hard_fraction:.0%} hard patients (low contrast, unusual anatomy, artefacts)."
        ),
        "hard_kinds": list(HARD_KINDS),
        "hard": _readonly(hard_kind != ""),
        "hard_kind": _readonly(hard_kind),
        "hard_detail": _readonly(hard_detail),
        "slice_position": _readonly(np.tile(zpos, train_patients)),
        "test_hard_kind": list(te_kind),
        "test_hard_detail": list(te_detail),
        "spacing": spacing,
        "seed": seed,
    }
    return SegmentationData(
        name="synthetic",
        class_names=list(CLASS_NAMES),
        pool_images=_readonly(pool_images.astype(np.float32, copy=False)),
        pool_labels=_readonly(pool_labels),
        pool_groups=_readonly(groups),
        test_volumes=volumes,
        info=info,
    )


def _copy_data(d: SegmentationData) -> SegmentationData:
    """A fully independent, writable copy of a cached dataset."""
    info = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in d.info.items()}
    info["hard_kinds"] = list(d.info["hard_kinds"])
    info["test_hard_kind"] = list(d.info["test_hard_kind"])
    info["test_hard_detail"] = list(d.info["test_hard_detail"])
    return SegmentationData(
        name=d.name,
        class_names=list(d.class_names),
        pool_images=d.pool_images.copy(),
        pool_labels=d.pool_labels.copy(),
        pool_groups=d.pool_groups.copy(),
        test_volumes=[Volume(v.name, v.image.copy(), v.label.copy(), v.spacing) for v in d.test_volumes],
        info=info,
    )


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def load_synthetic(
    image_size: int = 64,
    train_patients: int = 48,
    test_patients: int = 12,
    slices_per_patient: int = 8,
    hard_fraction: float = 0.2,
    seed: int = 1234,
) -> SegmentationData:
    """Build (or fetch from the in-memory cache) the ``synthetic`` cardiac phantom dataset.

    Returns a :class:`SegmentationData` with ``train_patients * slices_per_patient`` pool
    slices (``N x 1 x S x S`` float32 in [0, 1], labels ``N x S x S`` uint8, 0 background,
    1 RV, 2 MYO, 3 LV), ``test_patients`` test volumes (``D x S x S``, same resolution,
    spacing ``(10, 256 / S, 256 / S)`` mm) and hard-case flags in ``info`` (see the module
    docstring).  Every call returns fresh writable arrays, so callers cannot corrupt the cache.

    Raises:
        ValueError: ``image_size < 32``, a count ``< 1``, ``hard_fraction`` outside
            ``[0, 1]`` or a negative / non-integer seed.
    """
    image_size = _check_int("image_size", image_size, 32)
    train_patients = _check_int("train_patients", train_patients, 1)
    test_patients = _check_int("test_patients", test_patients, 1)
    slices_per_patient = _check_int("slices_per_patient", slices_per_patient, 1)
    seed = _check_int("seed", seed, 0)
    if isinstance(hard_fraction, bool) or not isinstance(hard_fraction, Real):
        raise ValueError(f"hard_fraction must be a number, got {hard_fraction!r}")
    hard_fraction = float(hard_fraction)
    if not 0.0 <= hard_fraction <= 1.0:
        raise ValueError(f"hard_fraction must be in [0, 1], got {hard_fraction}")
    data = _build(image_size, train_patients, test_patients, slices_per_patient, hard_fraction, seed)
    return _copy_data(data)
