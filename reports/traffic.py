"""The traffic report: totals, the concurrent-viewers series (one sweep, constant memory) and the sessions page."""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass

from databases.core import Connection

from reports import queries
from reports.forms import Interval
from webinar.events import queries as event_queries
from webinar.events.queries import Event

PAGE_SIZE = 50
BUCKETS = 96


@dataclass(frozen=True)
class Series:
    """Peak concurrent viewers within each of `len(values)` equal slices of [start, end]."""

    start: dt.datetime
    end: dt.datetime
    values: list[int]
    peak: int
    peak_at: dt.datetime | None
    total_minutes: float


class _Sweep:
    """Walks login/logout instants in time order, keeping the count and each bucket's maximum."""

    def __init__(self, start: dt.datetime, end: dt.datetime, buckets: int) -> None:
        self.start, self.end = start, end
        self.width = (end - start) / buckets
        self.values = [0] * buckets
        self.count = 0
        self.last = start
        self.peak = 0
        self.peak_at: dt.datetime | None = None

    def _bucket(self, at: dt.datetime) -> int:
        return min(max(int((at - self.start) / self.width), 0), len(self.values) - 1)

    def advance(self, at: dt.datetime) -> None:
        """The count held from the last change until `at`: every bucket in between saw it."""
        for i in range(self._bucket(self.last), self._bucket(at) + 1):
            self.values[i] = max(self.values[i], self.count)
        self.last = max(self.last, at)

    def change(self, at: dt.datetime, delta: int) -> None:
        self.advance(at)
        self.count += delta
        if self.count > self.peak:
            self.peak, self.peak_at = self.count, at
        self.advance(at)


async def series(conn: Connection, event_id: int, interval: Interval, start: dt.datetime, end: dt.datetime) -> Series:
    """Concurrent viewers over [start, end]: sessions in login order, open ones' ends kept in a heap."""
    sweep = _Sweep(start, end, BUCKETS)
    ends: list[dt.datetime] = []  # as large as the number of viewers at once, not the number of sessions
    total = 0.0
    async for span in queries.spans_by_start(conn, event_id, interval):
        total += span.minutes
        begin = max(span.started_at, start)
        while ends and ends[0] <= begin:  # a logout at the very instant of a login is not an overlap
            sweep.change(heapq.heappop(ends), -1)
        sweep.change(begin, +1)
        heapq.heappush(ends, max(min(span.end, end), begin))
    while ends:
        sweep.change(heapq.heappop(ends), -1)
    sweep.advance(end)
    return Series(start, end, sweep.values, sweep.peak, sweep.peak_at, round(total, 1))


@dataclass(frozen=True)
class Totals:
    """The page's figures; minutes are whole-session lengths (as in traffic.csv), not clipped to the interval."""

    registered: int
    approved: int
    active: int
    sessions: int
    peak: int
    peak_at: dt.datetime | None
    total_minutes: float
    average_minutes: float
    waitlisted: int = 0
    cancelled: int = 0
    taken_over: int = 0  # sessions another device of the same registrant took over (SPEC §15)


@dataclass(frozen=True)
class TrafficReport:
    event: Event
    interval: Interval
    totals: Totals
    series: Series
    sessions: list[queries.SessionRow]
    page: int
    pages: int
    zoomed: bool = False  # the chart spans the time with viewing, not the event's whole window


ZOOM_AT_LEAST = dt.timedelta(minutes=30)  # a few minutes of viewing still gets axis labels a person can tell apart


def _domain(
    event: Event, interval: Interval, counts: queries.SessionCounts, whole: bool
) -> tuple[dt.datetime, dt.datetime]:
    """The chart's time span: the interval, its missing sides filled by the time that has viewing (with a margin of a
    twentieth each side, and ZOOM_AT_LEAST in all), or, when `whole` or nobody watched, by the event's doors-open / end
    or sessions."""
    if not whole and counts.first_start is not None and counts.last_end is not None:
        watched = counts.last_end - counts.first_start
        margin = max(watched / 20, (ZOOM_AT_LEAST - watched) / 2, dt.timedelta(minutes=1))
        start = interval.start or counts.first_start - margin
        end = interval.end or counts.last_end + margin
    else:
        start = interval.start or min(filter(None, (event.doors_open_at, counts.first_start)))
        end = interval.end or max(filter(None, (event.ends_at, counts.last_end)))
    return start, max(end, start + dt.timedelta(minutes=1))


def zoomed(interval: Interval, counts: queries.SessionCounts, whole: bool) -> bool:
    """Whether the chart is zoomed to the viewing rather than the event's whole window (the page says so)."""
    return not whole and counts.first_start is not None and not (interval.start and interval.end)


async def build(conn: Connection, event: Event, interval: Interval, page: int, whole: bool = False) -> TrafficReport:
    """Everything the traffic page shows, for one interval and one page of sessions; the chart spans the time with
    viewing unless `whole` asks for the event's whole window (the figures are the same: nobody watched outside)."""
    registrants = await event_queries.registration_counts(conn, event.id)
    counts = await queries.session_counts(conn, event.id, interval)
    start, end = _domain(event, interval, counts, whole)
    curve = await series(conn, event.id, interval, start, end)
    pages = max(1, -(-counts.sessions // PAGE_SIZE))
    page = min(page, pages)
    rows = await queries.sessions_page(conn, event.id, interval, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    average = round(curve.total_minutes / counts.active, 1) if counts.active else 0.0
    totals = Totals(
        registrants.registered,
        registrants.approved,
        counts.active,
        counts.sessions,
        curve.peak,
        curve.peak_at,
        curve.total_minutes,
        average,
        registrants.waitlisted,
        registrants.cancelled,
        counts.taken_over,
    )
    return TrafficReport(event, interval, totals, curve, rows, page, pages, zoomed(interval, counts, whole))
