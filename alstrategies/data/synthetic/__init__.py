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

Modules
-------
:mod:`~alstrategies.data.synthetic.patient` (the random parameters of a patient),
:mod:`~alstrategies.data.synthetic.anatomy` (shapes and labels),
:mod:`~alstrategies.data.synthetic.imaging` (texture, blur, bias field, artefacts, Rician noise),
:mod:`~alstrategies.data.synthetic.hard_cases` (which patients are hard, and how) and
:mod:`~alstrategies.data.synthetic.loader` (:func:`load_synthetic` and its cache).
"""

from __future__ import annotations

from alstrategies.data.synthetic.anatomy import CLASS_NAMES
from alstrategies.data.synthetic.hard_cases import HARD_KINDS
from alstrategies.data.synthetic.hard_cases import _hard_assignment as _hard_assignment
from alstrategies.data.synthetic.loader import FOV_MM, SLICE_THICKNESS_MM, load_synthetic
from alstrategies.data.synthetic.loader import _build as _build

# The public path, which the ``alstrategies.datasets`` entry point names and the registry
# compares against (``Registry.register`` of the built-in loader is then a no-op).
load_synthetic.__module__ = __name__

__all__ = [
    "CLASS_NAMES",
    "FOV_MM",
    "HARD_KINDS",
    "SLICE_THICKNESS_MM",
    "load_synthetic",
]
