"""Make voltools' StaticVolume take its CPU path (scipy affine_transform) in every process that
has this directory on PYTHONPATH, including pytom's spawned workers."""

try:
    import voltools
    import voltools.volume
except ImportError:  # not the pytom environment
    voltools = None

if voltools is not None:
    _init = voltools.volume.StaticVolume.__init__

    def _cpu_init(self, data, interpolation="linear", device="gpu"):
        import numpy as np

        _init(self, np.asarray(data), interpolation=interpolation, device="cpu")

    voltools.volume.StaticVolume.__init__ = _cpu_init
