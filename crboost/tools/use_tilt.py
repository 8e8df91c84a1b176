"""Warp's per-tilt exclusion: the `UseTilt` list of a tilt-series XML.

WarpTools reads `<UseTilt>` (one True/False per tilt, in the order of `<MoviePath>`) when it
loads a tilt series (warpem/warp WarpLib/TiltSeries/TiltSeries.cs, LoadMeta: `//UseTilt`) and
honours it wherever it uses the tilts: ts_reconstruct weights an unused tilt by 0.0001 through
its CTF (`GetCTFsForOneParticle`: `CurrCTF.Scale *= UseTilt[t] ? 1 : 0.0001M`, used by
TiltSeries.ReconstructFull.cs), subtomogram and particle export give it zero weight
(ReconstructSubtomos.cs, ReconstructParticleSeries.cs), stacks leave it out (StackTilts.cs).
The Warp GUI's tilt knobs set the same list (Warp/Controls/MainUI/CTFDisplay.xaml.cs).

Only the text of that one element changes: the rest of the file stays byte for byte as Warp
wrote it (its BOM, its indentation).
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from .warp import WarpFormatError, movie_stem, read_tilt_series_xml

_USE_TILT = re.compile(r"(<UseTilt>)(.*?)(</UseTilt>)", re.S)


def with_use_tilt(text: str, use: list[bool], path: str | Path) -> str:
    """The XML text with its UseTilt list replaced by `use`."""
    if len(_USE_TILT.findall(text)) != 1:
        raise WarpFormatError(f"{path}: expected one <UseTilt> element")
    values = "\n".join("True" if u else "False" for u in use)
    return _USE_TILT.sub(lambda m: m.group(1) + values + m.group(3), text)


def write_used_tilts(source: Path, dest: Path, kept_movies: set[str]) -> list[bool]:
    """Copy the tilt-series XML `source` to `dest` with UseTilt True exactly for the tilts whose
    movie is in `kept_movies` (Warp item names: file names without extension). Returns the list
    written, in the XML's order."""
    meta = read_tilt_series_xml(source)
    use = [movie_stem(m) in kept_movies for m in meta.movie_paths]
    raw = Path(source).read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = with_use_tilt(raw.decode("utf-8-sig"), use, source)
    try:
        ET.fromstring(text.encode())
    except ET.ParseError as e:  # never hand WarpTools a file it cannot read
        raise WarpFormatError(f"{dest}: would not be valid XML ({e})") from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    tmp.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    os.replace(tmp, dest)
    return use
