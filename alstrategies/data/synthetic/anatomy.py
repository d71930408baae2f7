"""Anatomy of the phantom: Fourier-perturbed shapes, organs, heart and the label map.

Everything here is deterministic given a :class:`~alstrategies.data.synthetic.patient._Patient`
(no random draws); see the *Anatomy* section of :mod:`alstrategies.data.synthetic`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from alstrategies.data.synthetic.patient import _Patient

CLASS_NAMES = ["RV", "MYO", "LV"]

_BG, _RV, _MYO, _LV = 0, 1, 2, 3


class _Anatomy(NamedTuple):
    """Noise-free rendering of one patient and the geometry image formation needs."""

    img: np.ndarray  # D x S x S float32 tissue intensities, before texture, blur, bias and noise
    label: np.ndarray  # D x S x S uint8 labels (0 BG, 1 RV, 2 MYO, 3 LV)
    x: np.ndarray  # D x S x S pixel-centre coordinates in [-1, 1]
    y: np.ndarray
    body: np.ndarray  # D x S x S bool body mask
    hx: np.ndarray  # D x 1 x 1 heart centre per slice
    hy: np.ndarray


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


def _render_anatomy(p: _Patient, size: int, depth: int) -> _Anatomy:
    """Tissue intensities and labels of one patient on a ``depth x size x size`` grid."""
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
    amps, phases = p.lung_amps, p.lung_phases
    lungs = _blob(x, y, hx + 0.5, hy - 0.12, 0.22, 0.36 * (1.0 - 0.2 * z), 0.3, amps, phases)
    lungs |= _blob(x, y, hx - 0.62, hy - 0.3, 0.2, 0.28 * (1.0 - 0.2 * z), -0.4, amps, phases)
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
    return _Anatomy(img, label, x, y, body, hx, hy)
