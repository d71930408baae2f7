"""SBC-AL's distance maps and consistency scores (DESIGN section 3), batched, in torch.

Every public function accepts torch tensors or numpy arrays and returns the kind it was given
(numpy in -> numpy out). Torch inputs stay on their device: the exact Euclidean distance
transform below is a handful of vectorised tensor operations, so on a GPU the whole query runs
there.

Exact EDT
---------
The squared Euclidean distance transform is separable (Saito-Toriwaki / Meijster): first, along
each column, the squared distance ``g`` to the nearest background pixel of that column (found
with a running max/min of background indices: exact, O(n)); then, along each row,
``D(i, j) = min_t g(i, j + t) + t^2``. The second pass is an exact brute-force minimum taken
offset by offset, ``t = 1, 2, ...``, and stops as soon as ``t^2`` reaches the largest value
still in play (no larger offset can lower any value), so its cost is the largest distance,
not the image width, times the number of pixels. Squared distances are integers, held exactly
in float32. Batches are cropped to the union bounding box of the pixels that matter first
(exact: see :func:`_bounding_box`). The result equals ``scipy.ndimage.distance_transform_edt``
bit for bit on numpy output, including scipy's convention for a mask with no background pixel
at all (distances to a virtual background pixel just above the top-left corner,
``sqrt((i + 1)^2 + j^2)``). :func:`distance_maps` frames every mask with one pixel of
background first, so that convention never reaches them.
"""

from __future__ import annotations

from typing import Literal, TypeVar

import numpy as np
import torch

ArrayT = TypeVar("ArrayT", torch.Tensor, np.ndarray)
CosineKind = Literal["standard", "paper"]
COSINE_KINDS = ("standard", "paper")

__all__ = [
    "squared_edt",
    "distance_transform",
    "distance_maps",
    "structure_terms",
    "structure_consistency",
    "hausdorff_distances",
    "boundary_consistency",
    "consistency_score",
]


# -- conversions -----------------------------------------------------------------------------
def _as_tensor(x: torch.Tensor | np.ndarray, device: torch.device | None = None) -> torch.Tensor:
    """A torch view of ``x`` (numpy arrays are shared, not copied, where possible)."""
    if isinstance(x, torch.Tensor):
        return x if device is None else x.to(device)
    if isinstance(x, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(x))
        return tensor if device is None else tensor.to(device)
    raise TypeError(f"expected a torch.Tensor or a numpy.ndarray, got {type(x).__name__}")


def _like(result: torch.Tensor, reference: ArrayT) -> ArrayT:
    """``result`` as the kind of ``reference``: numpy for numpy, torch otherwise."""
    if isinstance(reference, np.ndarray):
        return result.detach().cpu().numpy()
    return result


def _check_labels(labels: torch.Tensor, num_classes: int, name: str) -> None:
    if labels.ndim != 3:
        raise ValueError(f"{name} must be B x H x W label maps, got shape {tuple(labels.shape)}")
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer class labels, got dtype {labels.dtype}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2 (background + one class), got {num_classes}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"{name} holds labels outside [0, {num_classes - 1}]")


def _class_masks(labels: torch.Tensor, num_classes: int, first: int = 1) -> torch.Tensor:
    """``B x K x H x W`` boolean masks of the classes ``first .. C-1`` (foreground by default)."""
    classes = torch.arange(first, num_classes, device=labels.device, dtype=labels.dtype)
    return labels.unsqueeze(1) == classes.view(1, -1, 1, 1)


# -- exact squared EDT -------------------------------------------------------------------------
def _any_per_row(mask: torch.Tensor) -> torch.Tensor:
    """``mask.flatten(1).any(1)``; a byte max is many times faster than ``any`` on the CPU."""
    return mask.reshape(mask.shape[0], -1).view(torch.uint8).amax(dim=1).bool()


def _all_per_row(mask: torch.Tensor) -> torch.Tensor:
    """``mask.flatten(1).all(1)``, by a byte min."""
    return mask.reshape(mask.shape[0], -1).view(torch.uint8).amin(dim=1).bool()


def _bounding_box(mask: torch.Tensor, margin: int) -> tuple[slice, slice]:
    """Union over the batch of the bounding boxes of ``mask`` (N x H x W), grown by ``margin``.

    Cropping a distance transform of foreground ``mask`` to this box with ``margin = 1`` is
    exact: a nearest background pixel outside the box can be replaced by its projection onto
    the box's one-pixel rim, which is background and no farther. With ``margin = 0`` it is exact
    for distances to a set that lies inside the box.
    """
    height, width = mask.shape[-2:]
    union = mask.view(torch.uint8).amax(dim=0)
    rows = union.amax(dim=1).nonzero()
    cols = union.amax(dim=0).nonzero()
    if rows.numel() == 0:
        return slice(0, 0), slice(0, 0)
    r0, r1 = int(rows[0]), int(rows[-1]) + 1
    c0, c1 = int(cols[0]), int(cols[-1]) + 1
    return (
        slice(max(r0 - margin, 0), min(r1 + margin, height)),
        slice(max(c0 - margin, 0), min(c1 + margin, width)),
    )


def _column_pass(background: torch.Tensor) -> torch.Tensor:
    """Squared distance along dim 1 to the nearest background pixel of the same column.

    ``inf`` in a column without background.
    """
    _, height, width = background.shape
    index = torch.arange(height, device=background.device, dtype=torch.int32).view(1, height, 1)
    far = 4 * (height + width)
    previous = torch.where(background, index, -far).cummax(dim=1).values
    following = torch.where(background, index, far).flip(1).cummin(dim=1).values.flip(1)
    steps = torch.minimum(index - previous, following - index).float()
    return torch.where(steps < height, steps * steps, torch.inf)


def _row_pass(column: torch.Tensor, relevant: torch.Tensor | None = None) -> torch.Tensor:
    """``D(i, j) = min_t column(i, j + t) + t^2`` over the last axis (exact).

    Offsets grow until ``t^2`` reaches the largest value still needed. With ``relevant``, only
    those pixels are computed (the others are returned as 0), which also lets the loop stop as
    soon as they are final.
    """
    result = column.clone() if relevant is None else torch.where(relevant, column, 0.0)
    width = column.shape[-1]
    for offset in range(1, width):
        # checked every 4th offset only (a host sync); further offsets never lower a final value
        if offset % 4 == 1 and offset * offset >= float(result.max()):
            break
        cost = float(offset * offset)
        right, left = result[..., offset:], result[..., :-offset]
        torch.minimum(right, column[..., :-offset] + cost, out=right)
        torch.minimum(left, column[..., offset:] + cost, out=left)
    return result


def _no_background_squared(height: int, width: int, device: torch.device) -> torch.Tensor:
    """scipy's answer for a mask without background: squared distance to pixel (-1, 0)."""
    rows = torch.arange(1, height + 1, device=device, dtype=torch.float32).view(height, 1)
    cols = torch.arange(width, device=device, dtype=torch.float32).view(1, width)
    return rows * rows + cols * cols


def _squared_edt(mask: torch.Tensor) -> torch.Tensor:
    """Squared EDT of a batch of boolean masks (N x H x W) -> float32, scipy's semantics."""
    count, height, width = mask.shape
    out = torch.zeros((count, height, width), dtype=torch.float32, device=mask.device)
    if count == 0 or height == 0 or width == 0:
        return out
    present = _any_per_row(mask)
    complete = _all_per_row(mask)
    rows = (present & ~complete).nonzero().squeeze(1)
    if rows.numel():
        sub = mask[rows]
        ys, xs = _bounding_box(sub, margin=1)
        crop = sub[:, ys, xs]
        out[rows, ys, xs] = _row_pass(_column_pass(~crop))
    if bool(complete.any()):
        out[complete] = _no_background_squared(height, width, mask.device)
    return out


def squared_edt(mask: ArrayT) -> ArrayT:
    """Squared Euclidean distance of each True pixel to the nearest False pixel (0 elsewhere).

    ``mask`` is ``N x H x W`` (or ``H x W``); float32 out. Equal to the square of
    ``scipy.ndimage.distance_transform_edt`` of each 2D mask.
    """
    tensor = _as_tensor(mask).bool()
    flat = tensor.unsqueeze(0) if tensor.ndim == 2 else tensor
    if flat.ndim != 3:
        raise ValueError(f"mask must be H x W or N x H x W, got shape {tuple(tensor.shape)}")
    return _like(_squared_edt(flat).view(tensor.shape), mask)


def distance_transform(mask: ArrayT) -> ArrayT:
    """``scipy.ndimage.distance_transform_edt`` of each 2D mask of ``mask`` (N x H x W or H x W).

    float64 for numpy input (bit-identical to scipy), float32 for torch input.
    """
    squared = squared_edt(mask)
    if isinstance(squared, np.ndarray):
        return np.sqrt(squared.astype(np.float64))
    return squared.sqrt()


# -- distance maps -------------------------------------------------------------------------
def _framed_squared_edt(mask: torch.Tensor) -> torch.Tensor:
    """Squared EDT of ``mask`` (N x H x W) inside a one-pixel frame of background.

    ``squared_edt(pad(mask, 1))[:, 1:-1, 1:-1]``: every padded mask has background, so scipy's
    no-background convention never applies, and a region touching the image edge is at distance
    1 from the frame there.
    """
    count, height, width = mask.shape
    framed = torch.zeros((count, height + 2, width + 2), dtype=torch.bool, device=mask.device)
    framed[:, 1:-1, 1:-1] = mask
    return _squared_edt(framed)[:, 1:-1, 1:-1]


def distance_maps(labels: ArrayT, num_classes: int, include_background: bool = True) -> ArrayT:
    """Normalised distance maps of label maps: ``B x H x W`` ints -> ``B x C x H x W``.

    For each class ``i`` (``0 .. C-1``; ``1 .. C-1``, ``B x F x H x W``, with
    ``include_background=False``): ``D_i = distance_transform_edt(pad(labels == i, 1))[1:-1,
    1:-1] / max``, the distance of each pixel of class ``i`` to the nearest pixel outside it, the
    image being framed by one pixel of no class (DESIGN section 3); all zero where class ``i`` is
    absent. float32 for torch input (on its device), float64 for numpy input (equal to scipy bit
    for bit).
    """
    tensor = _as_tensor(labels)
    _check_labels(tensor, num_classes, "labels")
    batch, height, width = tensor.shape
    first = 0 if include_background else 1
    masks = _class_masks(tensor, num_classes, first)
    squared = torch.empty(masks.shape, dtype=torch.float32, device=tensor.device)
    # the foreground apart from the background: its crop is tight and its distances are short
    foreground = 1 - first  # where the foreground maps start
    squared[:, foreground:] = _framed_squared_edt(masks[:, foreground:].reshape(-1, height, width)).view(
        batch, num_classes - 1, height, width
    )
    if include_background:
        squared[:, 0] = _framed_squared_edt(masks[:, 0])
    if isinstance(labels, np.ndarray):
        distance = np.sqrt(squared.numpy().astype(np.float64))
        peak = distance.max(axis=(2, 3), keepdims=True, initial=0.0)
        return np.divide(distance, peak, out=np.zeros_like(distance), where=peak > 0)
    distance = squared.sqrt()
    peak = distance.amax(dim=(2, 3), keepdim=True)
    return torch.where(peak > 0, distance / peak.clamp_min(1e-12), 0.0)


# -- structure consistency -----------------------------------------------------------------
def structure_terms(
    d_s: ArrayT, d_o: torch.Tensor | np.ndarray, cosine: CosineKind = "standard"
) -> tuple[ArrayT, ArrayT]:
    """``(Q_cos, Q_dice)`` per image of two batches of distance maps (``B x ...`` each).

    ``Q_cos = -sum(d_s d_o) / (|d_s| |d_o|)`` (``cosine = "paper"``: squared norms, as printed);
    -1 when both maps are all zero, 0 when exactly one is (with background maps, see
    :func:`distance_maps`, ``d_s`` is never all zero). ``Q_dice = 1 - 2 sum(d_s d_o) /
    (sum d_s + sum d_o)``; 0 when both are all zero.
    """
    if cosine not in COSINE_KINDS:
        raise ValueError(f"cosine must be one of {COSINE_KINDS}, got {cosine!r}")
    a = _as_tensor(d_s)
    b = _as_tensor(d_o, device=a.device)
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(
            f"d_s and d_o must be equal B x ... shapes, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    dtype = torch.promote_types(torch.promote_types(a.dtype, b.dtype), torch.float32)
    a = a.flatten(1).to(dtype)
    b = b.flatten(1).to(dtype)
    dot = (a * b).sum(dim=1)
    zero_a = ~_any_per_row(a != 0)
    zero_b = ~_any_per_row(b != 0)
    norm_a = torch.linalg.vector_norm(a, dim=1)
    norm_b = torch.linalg.vector_norm(b, dim=1)
    denominator = norm_a * norm_b
    if cosine == "paper":
        denominator = denominator * denominator
    both_zero = zero_a & zero_b
    one_zero = zero_a ^ zero_b
    safe = torch.where(zero_a | zero_b, 1.0, denominator).to(dtype)
    q_cos = torch.where(both_zero, -1.0, torch.where(one_zero, 0.0, -dot / safe)).to(dtype)
    total = a.sum(dim=1) + b.sum(dim=1)
    q_dice = torch.where(both_zero, 0.0, 1.0 - 2.0 * dot / torch.where(total == 0, 1.0, total).to(dtype))
    return _like(q_cos, d_s), _like(q_dice.to(dtype), d_s)


def structure_consistency(
    d_s: ArrayT,
    d_o: torch.Tensor | np.ndarray,
    w_c: float = 0.6,
    w_d: float = 0.4,
    cosine: CosineKind = "standard",
) -> ArrayT:
    """SCS ``= w_c Q_cos + w_d Q_dice`` per image (-> ``B``); see :func:`structure_terms`.

    ``d_s``: distance maps of the refined prediction, ``d_o``: the SFP output, both ``B x C x H
    x W`` (or ``B x F x H x W``; any ``B x ...`` works). The result has the kind of ``d_s``.
    """
    q_cos, q_dice = structure_terms(d_s, d_o, cosine)
    return w_c * q_cos + w_d * q_dice


# -- boundary consistency -----------------------------------------------------------------
def _directed_squared(target: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """``max_{a in source} min_{b in target} |a - b|^2`` per row; every ``target`` non-empty."""
    ys, xs = _bounding_box(target | source, margin=0)
    target, source = target[:, ys, xs], source[:, ys, xs]
    squared = _row_pass(_column_pass(target), relevant=source)
    return squared.flatten(1).amax(dim=1)


def _hausdorff_rows(a: torch.Tensor, b: torch.Tensor, empty_value: float) -> torch.Tensor:
    """Symmetric Hausdorff distance (pixels) of pixel sets ``a``, ``b`` (N x H x W bool).

    0 when both are empty, ``empty_value`` when exactly one is.
    """
    count = a.shape[0]
    result = torch.zeros(count, dtype=torch.float32, device=a.device)
    has_a = _any_per_row(a)
    has_b = _any_per_row(b)
    result[has_a ^ has_b] = empty_value
    differ = _any_per_row(a != b)
    rows = (has_a & has_b & differ).nonzero().squeeze(1)
    if rows.numel():
        ra, rb = a[rows], b[rows]
        # one batched pass for both directions: distance to b read on a \ b, and to a on b \ a
        squared = _directed_squared(torch.cat([rb, ra]), torch.cat([ra & ~rb, rb & ~ra]))
        n = rows.numel()
        result[rows] = torch.maximum(squared[:n], squared[n:]).sqrt()
    return result


def hausdorff_distances(a: ArrayT, b: torch.Tensor | np.ndarray) -> ArrayT:
    """Symmetric Hausdorff distance in pixels between the pixel sets of two batches of masks.

    ``a``, ``b``: ``N x H x W`` booleans (whole sets, not surfaces). ``nan`` when exactly one set
    of a pair is empty, 0 when both are.
    """
    ta = _as_tensor(a).bool()
    tb = _as_tensor(b, device=ta.device).bool()
    if ta.shape != tb.shape or ta.ndim != 3:
        raise ValueError(
            f"a and b must be equal N x H x W shapes, got {tuple(ta.shape)} and {tuple(tb.shape)}"
        )
    return _like(_hausdorff_rows(ta, tb, float("nan")), a)


def boundary_consistency(
    coarse_labels: ArrayT,
    refined_labels: torch.Tensor | np.ndarray,
    num_classes: int,
    normalize: bool = True,
) -> ArrayT:
    """BCS per image (-> ``B``): mean over foreground classes of the symmetric Hausdorff distance.

    For class ``i`` the distance is taken between the pixel sets ``{coarse == i}`` and
    ``{refined == i}``, divided by the image diagonal ``sqrt(H^2 + W^2)`` when ``normalize``;
    0 when both sets are empty; when exactly one is, 1 (normalised) or the diagonal in pixels
    (``normalize = False``), i.e. the largest distance the image allows either way.
    float32 (torch) or float64 (numpy) out.
    """
    coarse = _as_tensor(coarse_labels)
    refined = _as_tensor(refined_labels, device=coarse.device)
    _check_labels(coarse, num_classes, "coarse_labels")
    _check_labels(refined, num_classes, "refined_labels")
    if coarse.shape != refined.shape:
        raise ValueError(f"label maps differ in shape: {tuple(coarse.shape)} and {tuple(refined.shape)}")
    batch, height, width = coarse.shape
    diagonal = float(np.hypot(height, width))
    a = _class_masks(coarse, num_classes).view(-1, height, width)
    b = _class_masks(refined, num_classes).view(-1, height, width)
    hausdorff = _hausdorff_rows(a, b, empty_value=diagonal)
    if normalize:
        hausdorff = hausdorff / diagonal
    result = hausdorff.view(batch, num_classes - 1).mean(dim=1)
    if isinstance(coarse_labels, np.ndarray):
        return result.numpy().astype(np.float64)
    return result


# -- combination ---------------------------------------------------------------------------
def consistency_score(
    scs: ArrayT, bcs: torch.Tensor | np.ndarray, w_s: float = 0.8, w_b: float = 0.2
) -> ArrayT:
    """CS ``= w_s SCS + w_b BCS`` (-> ``B``); higher = less consistent = queried first."""
    a = _as_tensor(scs)
    b = _as_tensor(bcs, device=a.device)
    if a.shape != b.shape:
        raise ValueError(f"scs and bcs differ in shape: {tuple(a.shape)} and {tuple(b.shape)}")
    return _like(w_s * a + w_b * b, scs)
