"""Sense checks of physical values, wherever they come from (mdocs, the config, the command line).

Each quantity has hard limits (outside them the value cannot be right: an error naming the
value, the range and the unit) and, where useful, a usual range (outside it the value is odd but
possible: a warning). NaN and infinity are never a value. The config models use the same limits
(`Field(gt=..., le=...)` in crboost/project/config.py), so the mdoc, `--set` and crboost.yaml agree.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..errors import CrboostError


class SenseError(CrboostError, ValueError):
    """A value that cannot be right; the message says why, with the range and unit."""


@dataclass(frozen=True)
class Quantity:
    what: str
    unit: str
    low: float
    high: float
    low_open: bool = False  # the value must be > low (not >=)
    usual: tuple[float, float] | None = None

    def limits(self) -> str:
        low = f"> {self.low:g}" if self.low_open else f">= {self.low:g}"
        return f"{low} and <= {self.high:g} {self.unit}"

    def bounds(self) -> dict[str, float]:
        """The hard limits as pydantic Field constraints."""
        return {"gt" if self.low_open else "ge": self.low, "le": self.high}

    def check(self, value: float) -> float:
        """The value as a float; SenseError when it cannot be right."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise SenseError(f"{self.what} must be a number ({self.unit})") from None
        if not math.isfinite(number):
            raise SenseError(f"{self.what} must be a finite number ({self.unit})")
        too_low = number <= self.low if self.low_open else number < self.low
        if too_low or number > self.high:
            raise SenseError(f"{self.what} must be {self.limits()}")
        return number

    def oddity(self, value: float) -> str | None:
        """A warning when a possible value is outside the usual range."""
        if self.usual is None or self.usual[0] <= value <= self.usual[1]:
            return None
        low, high = self.usual
        return f"{self.what} of {value:g} {self.unit} is unusual (usually {low:g} to {high:g}); check it"


DOSE_PER_TILT = Quantity("a dose per tilt", "e/A^2", 0, 100, low_open=True, usual=(0.5, 10))
PIXEL_SIZE = Quantity("a pixel size", "A/px", 0, 50, low_open=True, usual=(0.3, 10))
VOLTAGE = Quantity("an acceleration voltage", "kV", 0, 1000, low_open=True, usual=(60, 400))
TILT_ANGLE = Quantity("a tilt angle", "degrees", -90, 90)
TILT_AXIS = Quantity("a tilt-axis angle", "degrees", -360, 360)
BINNING = Quantity("a camera binning", "x", 0, 64, low_open=True)
EXPOSURE_TIME = Quantity("an exposure time", "s", 0, 3600, low_open=True)
DOSE_RATE = Quantity("a dose rate", "e/px/s", 0, 1e6)
ROTATION = Quantity("an image rotation angle", "degrees", -360, 360)
#: SerialEM's TargetDefocus, micrometres (negative: underfocus)
DEFOCUS = Quantity("a target defocus", "um", -100, 100)

#: Time stamps outside these are a wrong clock (a PC without its time set, a typo).
EARLIEST_ACQUISITION = datetime(2000, 1, 1)
LONGEST_TILT_SERIES = timedelta(hours=24)


def checked(quantity: Quantity, value, where: str) -> float:
    """`quantity.check(value)`, the error naming where the value came from."""
    try:
        return quantity.check(value)
    except SenseError as e:
        raise SenseError(f"{where} = {show(value)}: {e}") from None


def time_stamp_warnings(stamps: list[datetime], now: datetime | None = None) -> list[str]:
    """What is odd about the time stamps of one tilt series (possible, so warnings)."""
    if not stamps:
        return []
    now = now or datetime.now()
    warnings = []
    first, last = min(stamps), max(stamps)
    if first < EARLIEST_ACQUISITION:
        warnings.append(f"time stamps from {first:%Y-%m-%d}: the acquisition PC's clock was wrong?")
    if last > now + timedelta(days=1):
        warnings.append(f"time stamps in the future ({last:%Y-%m-%d}): a wrong clock?")
    if last - first > LONGEST_TILT_SERIES:
        hours = (last - first).total_seconds() / 3600
        warnings.append(f"time stamps span {hours:.0f} h: acquisition order from them may be wrong")
    shared = sum(n for n in Counter(stamps).values() if n > 1)
    if shared:
        warnings.append(
            f"{shared} tilts share their time stamp with another: their order among "
            "themselves taken from ZValue"
        )
    return warnings


def show(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
