import os


def getDeviceCount():  # noqa: N802 - cupy's name
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    return 1 if value is None else len([v for v in value.split(",") if v.strip()])
