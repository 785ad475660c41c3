"""Time zones people name, and the local days and hours of a zone as exact UTC instants.

One parser (``zone``), so every page, API and report refuses the same names the same way. The bucket
functions below turn a zone into the UTC instants (whole seconds since 1970) at which its local days (or
clock hours) begin, exactly, whatever the offset: +05:45, -03:30, a 30-minute DST shift, a DST change at
midnight. The analytics read these instead of assuming that local days start on whole UTC hours.
"""

from __future__ import annotations

import bisect
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

MAX_ZONE_LENGTH = 64  # the longest IANA key is 32 characters
# Dates and times people may ask about (API parameters, page controls): no arithmetic on them overflows.
FIRST_YEAR, LAST_YEAR = 2000, 2099
DAY_S = 86400
HOUR_S = 3600
_STEP_S = 12 * HOUR_S  # offsets are probed this far apart; real zones change at most twice a year


# Listed by some hosts' zone databases but no place: "localtime" is the server's own zone, "Factory" none.
_NOT_PLACES = frozenset({"localtime", "Factory", "posixrules"})


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_PLACES


def zone(tz: str) -> ZoneInfo:
    """The IANA zone ``tz``; ValueError naming it when it is not a zone key (unknown, too long, a directory
    of the zone database such as ``Europe``, or not text)."""
    if not isinstance(tz, str) or len(tz) > MAX_ZONE_LENGTH:
        shown = tz[:MAX_ZONE_LENGTH] + "…" if isinstance(tz, str) else tz
        raise ValueError(
            f"unknown time zone {shown!r} (an IANA name of at most {MAX_ZONE_LENGTH} characters, "
            "such as Europe/Paris)"
        )
    if tz not in _known_zones():
        raise ValueError(f"unknown time zone {tz!r} (use an IANA name such as Europe/Paris)")
    try:
        return ZoneInfo(tz)
    except (OSError, ValueError, TypeError):  # listed but unreadable: still a bad name for the caller
        raise ValueError(f"unknown time zone {tz!r} (use an IANA name such as Europe/Paris)") from None


def offset_at(z: ZoneInfo, t: int) -> int:
    """The UTC offset of ``z`` at the instant ``t`` (seconds since 1970), in seconds."""
    off = datetime.fromtimestamp(t, tz=z).utcoffset()
    return int(off.total_seconds()) if off else 0


def offset_segments(z: ZoneInfo, t0: int, t1: int) -> list[tuple[int, int]]:
    """[(first second, offset in seconds)] of the constant-offset stretches covering [t0, t1]; each later
    stretch starts at the exact second of an offset change (found by bisection between probes)."""
    segs = [(t0, offset_at(z, t0))]
    t = t0
    while t < t1:
        nxt = min(t + _STEP_S, t1)
        off = offset_at(z, nxt)
        if off != segs[-1][1]:
            lo, hi = t, nxt  # offset(lo) is the current one, offset(hi) differs: bisect to the second
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset_at(z, mid) == segs[-1][1]:
                    lo = mid
                else:
                    hi = mid
            segs.append((hi, offset_at(z, hi)))
            if offset_at(z, nxt) != segs[-1][1]:  # two changes between probes: look again from here
                t = hi
                continue
        t = nxt
    return segs


def segment_offset(segs: list[tuple[int, int]], t: int) -> int:
    """The offset in force at ``t`` according to ``segs``."""
    i = bisect.bisect_right(segs, (t, float("inf"))) - 1
    return segs[max(i, 0)][1]


class LocalBuckets:
    """The local days (``unit`` = 86400) or clock hours (3600) of a zone around [t0, t1), as UTC instants.

    A bucket begins where the local wall-clock day (hour) changes; hours also begin at every offset change,
    so that a repeated hour (DST ends) is two buckets and an hour bucket never spans two offsets. ``starts``
    is sorted, ``starts[0] <= t0``; ``keys`` names each bucket: the local day number (days since
    1970-01-01 on the local calendar) for days, the start instant for hours.
    """

    def __init__(self, z: ZoneInfo, t0: int, t1: int, unit: int):
        if unit not in (DAY_S, HOUR_S):
            raise ValueError("unit is a day or an hour")
        self.unit = unit
        lo = t0 - 2 * unit  # reach back to the bucket that holds t0
        self.segs = offset_segments(z, lo, max(t1, t0 + 1))
        starts: list[int] = []
        for i, (s, off) in enumerate(self.segs):
            e = self.segs[i + 1][0] if i + 1 < len(self.segs) else t1
            if i > 0:
                prev = self.segs[i - 1][1]
                if unit == HOUR_S or (s - 1 + prev) // unit != (s + off) // unit:
                    starts.append(s)
            # instants in (s, e) where the local clock reads a whole day (hour)
            k = (s + off) // unit + 1
            t = k * unit - off
            while t < e:
                starts.append(t)
                t += unit
        self.starts = [b for b in starts if b <= t0][-1:] + [b for b in starts if t0 < b < t1]
        if not self.starts:
            self.starts = [lo]
        self.keys = [self._key(b) for b in self.starts]

    def _key(self, b: int) -> int:
        return (b + segment_offset(self.segs, b)) // DAY_S if self.unit == DAY_S else b

    def index(self, t: int) -> int:
        """The bucket holding instant ``t``."""
        return max(bisect.bisect_right(self.starts, t) - 1, 0)

    def key_of(self, t: int) -> int:
        return self.keys[self.index(t)]

    def inner_starts(self, a: int, b: int) -> list[int]:
        """Bucket starts strictly inside (a, b)."""
        return self.starts[bisect.bisect_right(self.starts, a) : bisect.bisect_left(self.starts, b)]
