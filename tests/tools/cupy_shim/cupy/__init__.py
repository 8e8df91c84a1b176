"""A numpy stand-in for the part of cupy pytom-match-pick 0.14 uses (see ../README.md)."""

import numpy as _np

from . import cuda, typing  # noqa: F401

float32 = _np.float32
float16 = _np.float16


class ndarray(_np.ndarray):  # noqa: N801 - cupy's name
    def get(self):
        return _np.asarray(self)


def _wrap(value):
    return _np.asarray(value).view(ndarray) if not _np.isscalar(value) else value


def asarray(a, dtype=None, order=None):
    return _wrap(_np.asarray(a, dtype=dtype, order=order))


def array(a, dtype=None):
    return _wrap(_np.array(a, dtype=dtype))


def zeros(shape, dtype=float):
    return _wrap(_np.zeros(shape, dtype=dtype))


def ones(shape, dtype=float):
    return _wrap(_np.ones(shape, dtype=dtype))


def asnumpy(a):
    return _np.asarray(a)


for _name in ("floor", "roll", "flip", "sqrt", "abs", "exp", "log", "sum", "mean", "where",
              "isnan", "isinf", "isfinite", "float64", "int32", "int64", "complex64", "pi",
              "arange", "meshgrid", "newaxis", "fft", "clip", "maximum", "minimum", "nan_to_num",
              "real", "conj", "stack", "zeros_like", "ones_like", "sin", "cos", "round"):  # fmt: skip
    globals()[_name] = getattr(_np, _name)


class _Pool:
    def free_all_blocks(self):
        pass

    def used_bytes(self):
        return 0


def get_default_memory_pool():
    return _Pool()


def _update_results(scores, ccc_map, angles, scores_out, angles_out):
    better = _np.asarray(scores) < _np.asarray(ccc_map)
    scores_out[better] = ccc_map[better]
    angles_out[better] = angles


def _update_noise(scores, ccc_map, scores_out):
    better = _np.asarray(scores) < _np.asarray(ccc_map)
    scores_out[better] = ccc_map[better]


_ELEMENTWISE = {"update_results": _update_results,
                "update_noise_template_results": _update_noise}  # fmt: skip


class ElementwiseKernel:
    def __init__(self, in_params, out_params, operation, name="", **kwargs):
        if name not in _ELEMENTWISE:
            raise NotImplementedError(f"cupy stand-in: no ElementwiseKernel {name!r}")
        self._run = _ELEMENTWISE[name]

    def __call__(self, *args):
        return self._run(*args)


class ReductionKernel:
    def __init__(self, in_params, out_params, map_expr, reduce_expr, post_map_expr, identity,
                 name="", **kwargs):  # fmt: skip
        if name != "variance" or map_expr != "x * x":
            raise NotImplementedError(f"cupy stand-in: no ReductionKernel {name!r}")

    def __call__(self, x):
        x = _np.asarray(x)
        return x.dtype.type((x * x).sum())


def __getattr__(name):
    raise NotImplementedError(f"cupy stand-in: cupy.{name} is not provided")
