"""Checks of what the downstream tools are given, each problem one line, before a tool runs.

The same checks run twice: when a run starts (`preflight`, from the config, the manifest and
the files already there: the user hears at once, before any tool of the run has started), and in
each driver just before its tool (with the real files). They catch what the tools do not say, or
say late: a template at another voxel size or contrast than the tomograms (pytom -t help),
tomograms too small for cryoCARE's patch in any dimension, Z included (a bare AssertionError in
CryoCAREDataModule), missing, mis-shaped or empty half tomograms (Warp issue #410), and tilts at
the same angle (pytom #348: all scores -inf, exit status 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: consecutive tilt angles (in angle order) closer than this are the same tilt angle
DUPLICATE_DEG = 0.5


def mrc_header(path: Path) -> tuple[tuple[int, int, int], float] | str:
    """((nx, ny, nz), voxel size) or a one-line problem."""
    import mrcfile

    if not path.is_file():
        return f"{path}: no such file"
    try:
        with mrcfile.open(path, header_only=True, permissive=True) as mrc:
            h = mrc.header
            if h.map != mrcfile.constants.MAP_ID:
                return f"{path}: not an MRC file"
            return (int(h.nx), int(h.ny), int(h.nz)), float(mrc.voxel_size.x)
    except (ValueError, OSError) as e:
        return f"{path}: not an MRC file ({e})"


def polarity(template: np.ndarray, mask: np.ndarray) -> int:
    """+1 if the template's density is brighter than its surroundings (white), -1 if darker."""
    inside = mask > 0.5
    if inside.all() or not inside.any():
        centre = tuple(slice(s // 4, s - s // 4) for s in template.shape)
        core = np.zeros(template.shape, bool)
        core[centre] = True
        inside = core
    contrast = float(template[inside].mean() - template[~inside].mean())
    return 1 if contrast >= 0 else -1


def check_template(
    template: Path,
    mask: Path,
    angpix: float,
    tomogram_shape: tuple[int, int, int] | None,
    white_density: bool | None,
    where: str,
) -> list[str]:
    """The template and mask against the tomograms they will be matched with."""
    import mrcfile

    problems = []
    t_head, m_head = mrc_header(template), mrc_header(mask)
    for head, key in ((t_head, "template"), (m_head, "mask")):
        if isinstance(head, str):
            problems.append(f"{where}.{key}: {head}")
    if problems:
        return problems
    (t_shape, t_px), (m_shape, m_px) = t_head, m_head
    if len(set(t_shape)) != 1:
        problems.append(
            f"{where}.template: {template} is {_dims(t_shape)} px; pytom needs a cubic box"
        )
    if m_shape != t_shape:
        problems.append(f"{where}.mask: {mask} is {_dims(m_shape)} px, the template "
                        f"{_dims(t_shape)}: pytom needs the same box")  # fmt: skip
    for px, key, path in ((t_px, "template", template), (m_px, "mask", mask)):
        if round(px, 3) != round(angpix, 3):
            problems.append(
                f"{where}.{key}: voxel size {px:g} A in {path}, the tomograms' is {angpix:g} A; "
                "rescale it to the tomograms' voxel size (pytom_create_template.py "
                f"--output-voxel-size-angstrom {angpix:g})"
            )
    if tomogram_shape is not None and max(t_shape) > min(tomogram_shape):
        problems.append(f"{where}.template: box of {max(t_shape)} px is larger than the "
                        f"tomograms ({_dims(tomogram_shape)} px)")  # fmt: skip
    if problems or white_density is None:
        return problems
    with mrcfile.open(template, permissive=True) as t, mrcfile.open(mask, permissive=True) as m:
        sign = polarity(np.asarray(t.data, np.float32), np.asarray(m.data, np.float32))
    if (sign > 0) != white_density:
        problems.append(
            f"{where}.template: {template} has {'white' if sign > 0 else 'dark'} density, the "
            f"tomograms {'white' if white_density else 'dark'} (tsReconstruct dont_invert: "
            f"{str(not white_density).lower()}); invert the template "
            "(pytom_create_template.py --invert)"
        )
    return problems


def check_patch(
    shape: tuple[int, int, int], patch: int, where: str, what: str, split: float = 0.9
) -> str | None:
    """cryoCARE needs every dimension, Z included, > 2 x patch, and room for a patch on both sides
    of its training/validation cut along the tilt axis Y (CryoCAREDataModule.py)."""
    if min(shape) <= 2 * patch:
        largest = max((min(shape) - 1) // 2, 0)
        return (f"{where}.subvolume_dimensions = {patch}: {what} {_dims(shape)} px; cryoCARE "
                f"needs every dimension, Z too, > 2 x {patch} (use at most {largest})")  # fmt: skip
    if not _split_leaves_room(shape[1], patch, split):
        return (f"{where}.subvolume_dimensions = {patch}: {what} {_dims(shape)} px; cryoCARE's "
                f"validation cut at split {split:g} leaves no room for a patch along Y (it fails "
                f"with 'low >= high'); change subvolume_dimensions by one or the split")  # fmt: skip
    return None


def _split_leaves_room(n: int, patch: int, split: float) -> bool:
    """cryoCARE's __compute_extraction_shapes__ and create_random_coords, for one axis of n px:
    training patches start in [0, cut - patch), validation patches in [cut, n - patch)."""
    cut = int(n * split) - 1
    if n - cut < patch or cut < patch:
        cut = n - patch - 1
    return cut - patch > 0 and n - patch > cut


def check_halves(half1: Path, half2: Path, what: str) -> tuple[int, int, int] | str:
    """The shape (nx, ny, nz) of two usable half tomograms, or a one-line problem."""
    import mrcfile

    heads = [mrc_header(half1), mrc_header(half2)]
    for head in heads:
        if isinstance(head, str):
            return f"{what}: half tomogram {head}"
    if heads[0][0] != heads[1][0]:
        return (f"{what}: half tomograms differ in shape ({_dims(heads[0][0])} and "
                f"{_dims(heads[1][0])} px)")  # fmt: skip
    for path in (half1, half2):
        with mrcfile.mmap(path, mode="r", permissive=True) as mrc:
            data = np.asarray(mrc.data[:: max(1, mrc.data.shape[0] // 8)], dtype=np.float32)
        if not np.isfinite(data).all():
            return f"{what}: half tomogram {path} has NaN or infinite values"
        if float(data.std()) == 0.0:
            return f"{what}: half tomogram {path} is constant (all {float(data.flat[0]):g})"
    return heads[0][0]


def duplicate_tilts(angles: list[float]) -> list[tuple[int, int]]:
    """Pairs of indices (into `angles`) of tilts at the same angle, in angle order."""
    order = np.argsort(angles, kind="stable")
    pairs = []
    for a, b in zip(order[:-1], order[1:], strict=True):
        if abs(angles[b] - angles[a]) < DUPLICATE_DEG:
            pairs.append((int(a), int(b)))
    return pairs


def duplicate_message(
    ts: str, angles: list[float], pairs: list[tuple[int, int]], where: str
) -> str:
    a, b = pairs[0]
    more = f" (and {len(pairs) - 1} more pair(s))" if len(pairs) > 1 else ""
    return (f"tilt series {ts}: tilts {a + 1} and {b + 1} are both at {angles[a]:.2f} deg{more}; "
            "duplicate tilt angles make pytom's scores -inf (pytom #348): exclude one of them, "
            f"or set {where}.duplicate_tilts: drop_later")  # fmt: skip


def _dims(shape) -> str:
    return "x".join(str(int(s)) for s in shape)
