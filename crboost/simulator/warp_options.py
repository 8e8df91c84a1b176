"""The options WarpTools accepts, verb by verb, in one named version at a time.

Read from warpem/warp at two commits (WarpTools/Commands/BaseOptions.cs, DistributedOptions.cs
and each verb's options class):
- "v2.0.0dev39" (89d29dfa, the latest release; the default): DistributedOptions has
  --device_list, --perdevice, --workers;
- "head" (e321344, unreleased, after the filesystem work queue of 2026-06-09): --workers is
  gone; --task_dir, --external_provisioner, --cluster_script, --cluster_config, --pool_size,
  --cluster_var are new. Every other option set is the same in both.
Choose with CRBOOST_SIM_WARP_VERSION (the simulated environment's WarpTools is one of them).
"""

from __future__ import annotations

import os

from .options import Opt

VERSIONS = ("v2.0.0dev39", "head")
DEFAULT_VERSION = "v2.0.0dev39"
#: what `Version` the parser's usage text prints (WarpTools.csproj <Version>; same in both)
ASSEMBLY_VERSION = "2.0.0"


def current_version() -> str:
    version = os.environ.get("CRBOOST_SIM_WARP_VERSION", DEFAULT_VERSION)
    if version not in VERSIONS:
        raise SystemExit(
            f"CRBOOST_SIM_WARP_VERSION={version!r}: the simulator models {', '.join(VERSIONS)}"
        )
    return version


S, INT, D, SW, L, IL = "string", "int", "double", "switch", "list", "intlist"

BASE = [
    Opt("settings", S, required=True),
    Opt("input_data", L),
    Opt("input_data_recursive", SW),
    Opt("input_processing", S),
    Opt("output_processing", S),
    Opt("input_norawdata", SW),
    Opt("strict", SW),
]
DISTRIBUTED = {
    "v2.0.0dev39": [Opt("device_list", IL), Opt("perdevice", INT, default=1), Opt("workers", L)],
    "head": [
        Opt("device_list", IL),
        Opt("perdevice", INT, default=1),
        Opt("task_dir", S),
        Opt("external_provisioner", SW),
        Opt("cluster_script", S),
        Opt("cluster_config", S),
        Opt("pool_size", INT),
        Opt("cluster_var", L),
    ],
}

_VERBS: dict[str, tuple[str, list[Opt]]] = {
    "create_settings": ("none", [
        Opt("output", S, required=True, short="o"), Opt("folder_processing", S),
        Opt("folder_data", S, required=True), Opt("recursive", SW), Opt("extension", S),
        Opt("angpix", S, required=True), Opt("bin", D), Opt("bin_angpix", D),
        Opt("gain_path", S), Opt("defects_path", S), Opt("gain_flip_x", SW),
        Opt("gain_flip_y", SW), Opt("gain_transpose", SW), Opt("exposure", D, default=1.0),
        Opt("eer_ngroups", INT, default=40), Opt("eer_groupexposure", D),
        Opt("tomo_dimensions", S),
    ]),
    "fs_motion_and_ctf": ("distributed", [
        Opt("m_range_min", D, default=500.0), Opt("m_range_max", D, default=10.0),
        Opt("m_bfac", D, default=-500.0), Opt("m_grid", S), Opt("c_window", INT, default=512),
        Opt("c_range_min", D, default=30.0), Opt("c_range_max", D, default=4.0),
        Opt("c_defocus_min", D, default=0.5), Opt("c_defocus_max", D, default=5.0),
        Opt("c_voltage", INT, default=300), Opt("c_cs", D, default=2.7),
        Opt("c_amplitude", D, default=0.07), Opt("c_fit_phase", SW), Opt("c_use_sum", SW),
        Opt("c_grid", S), Opt("out_averages", SW), Opt("out_average_halves", SW),
        Opt("out_thumbnails", INT), Opt("out_skip_first", INT, default=0),
        Opt("out_skip_last", INT, default=0),
    ]),
    "ts_import": ("none", [
        Opt("mdocs", S, required=True), Opt("pattern", S, default="*.mdoc"),
        Opt("exclude_pattern", S, default=""), Opt("frameseries", S, required=True),
        Opt("tilt_exposure", D, required=True), Opt("dont_invert", SW),
        Opt("override_axis", D), Opt("auto_zero", SW), Opt("tilt_offset", D),
        Opt("max_tilt", INT, default=90), Opt("min_intensity", D, default=0.0),
        Opt("max_mask", D, default=1.0), Opt("min_ntilts", INT, default=1),
        Opt("output", S, required=True, short="o"), Opt("strict", SW),
    ]),
    "ts_aretomo": ("distributed", [
        Opt("angpix", D), Opt("mask", SW), Opt("alignz", INT, required=True),
        Opt("axis_iter", INT, default=0), Opt("axis_batch", INT, default=0),
        Opt("min_fov", D, default=0.0), Opt("axis", D), Opt("patches", S),
        Opt("delete_intermediate", SW), Opt("thumbnails", SW), Opt("exe", S, default="AreTomo2"),
    ]),
    "ts_aretomo3": ("distributed", [
        Opt("angpix", D), Opt("mask", SW), Opt("alignz", INT, default=0),
        Opt("patches", S, default="4,4"), Opt("axis_iter", INT, default=0),
        Opt("axis_batch", INT, default=0), Opt("min_fov", D, default=0.0), Opt("axis", D),
        Opt("delete_intermediate", SW), Opt("thumbnails", SW), Opt("exe", S, default="AreTomo3"),
    ]),
    "ts_etomo_patches": ("distributed", [
        Opt("angpix", D), Opt("mask", SW), Opt("min_fov", D, default=0.0),
        Opt("initial_axis", D), Opt("do_axis_search", SW), Opt("patch_size", D, default=500.0),
        Opt("delete_intermediate", SW), Opt("thumbnails", SW),
    ]),
    "ts_defocus_hand": ("base", [
        Opt("check", SW), Opt("set_auto", SW), Opt("set_flip", SW), Opt("set_noflip", SW),
        Opt("set_switch", SW),
    ]),
    "ts_ctf": ("distributed", [
        Opt("window", INT, default=512), Opt("range_low", D, default=30.0),
        Opt("range_high", D, default=4.0), Opt("defocus_min", D, default=0.5),
        Opt("defocus_max", D, default=5.0), Opt("voltage", INT, default=300),
        Opt("cs", D, default=2.7), Opt("amplitude", D, default=0.07), Opt("fit_phase", SW),
        Opt("auto_hand", INT, default=0),
    ]),
    "ts_reconstruct": ("distributed", [
        Opt("angpix", D, required=True), Opt("halfmap_frames", SW), Opt("halfmap_tilts", SW),
        Opt("deconv", SW), Opt("deconv_strength", D, default=1.0),
        Opt("deconv_falloff", D, default=1.0), Opt("deconv_highpass", D, default=300.0),
        Opt("keep_full_voxels", SW), Opt("dont_invert", SW), Opt("dont_normalize", SW),
        Opt("dont_mask", SW), Opt("dont_overwrite", SW), Opt("subvolume_size", INT, default=64),
        Opt("subvolume_padding", INT, default=3),
    ]),
}  # fmt: skip


def verb_options(verb: str, version: str) -> list[Opt] | None:
    """The verb's options in that version (base and distributed options first, as the parser's
    help lists them), or None for a verb the version does not have."""
    if verb not in _VERBS:
        return None
    base, own = _VERBS[verb]
    inherited = {"none": [], "base": BASE, "distributed": BASE + DISTRIBUTED[version]}[base]
    return [*inherited, *own]


def verbs() -> list[str]:
    return sorted(_VERBS)


def is_distributed(verb: str) -> bool:
    return _VERBS[verb][0] == "distributed"
