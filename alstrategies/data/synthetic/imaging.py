"""Image formation of the phantom: texture, partial-volume blur, bias field, artefacts, Rician noise.

See the *Appearance* section of :mod:`alstrategies.data.synthetic`; the anatomy comes from
:mod:`alstrategies.data.synthetic.anatomy`.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter, gaussian_filter1d

from alstrategies.data.synthetic.anatomy import _render_anatomy
from alstrategies.data.synthetic.patient import _Patient


def _render_patient(
    p: _Patient, size: int, depth: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Render one patient: image ``D x S x S`` float32 in [0, 1] and labels uint8."""
    img, label, x, y, body, hx, hy = _render_anatomy(p, size, depth)
    shape = img.shape

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
