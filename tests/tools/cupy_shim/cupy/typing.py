from numpy.typing import NDArray  # noqa: F401
