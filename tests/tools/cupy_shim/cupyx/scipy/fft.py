"""cupyx.scipy.fft: scipy.fft, results as the stand-in's arrays."""

import cupy as _cp
import scipy.fft as _fft


def rfftn(x, *args, **kwargs):
    return _cp.asarray(_fft.rfftn(_cp.asnumpy(x), *args, **kwargs))


def irfftn(x, *args, **kwargs):
    return _cp.asarray(_fft.irfftn(_cp.asnumpy(x), *args, **kwargs))


def fftn(x, *args, **kwargs):
    return _cp.asarray(_fft.fftn(_cp.asnumpy(x), *args, **kwargs))


def ifftn(x, *args, **kwargs):
    return _cp.asarray(_fft.ifftn(_cp.asnumpy(x), *args, **kwargs))
