"""``checkout`` of ``aiops sample``: orders as traces, JSON lines sharing one ``trace_id`` per order.

An order attempt is a trace: ``Cart validated`` -> optional ``Shipping quote`` / ``Applied coupon``
/ inventory retry WARN -> ``Payment authorized`` (or ``Payment declined`` ERROR, which ends it)
-> ``Order placed``. About 15% of carts are abandoned after validation, a few carry a
discontinued SKU; price-list and session lines are single-line traces of their own. Steps are
seconds to minutes apart, so traces straddle windows and files. Incidents:

* ``error_spike``: ~45% of orders reaching payment in the window end with an UpstreamError or an
  inventory timeout ERROR instead of being authorized;
* ``order_flow_broken``: on ``checkout-2``/``checkout-3`` ~65% of the orders paid in the window
  skip ``Payment authorized`` and go straight to ``Order placed``.

Example::

    >>> import numpy as np
    >>> from aiops.sample.checkout import plan_checkout, render_checkout
    >>> rng = np.random.default_rng(1)
    >>> times, cols = plan_checkout(rng, 50, 0, 3_600_000, np.ones(60), {})
    >>> lines = render_checkout(rng, times, {}, cols)
    >>> '"msg":"Cart ' in lines[0]
    True
"""

from __future__ import annotations

import numpy as np

from aiops.sample.common import Cols, Incident, fmt_iso_ms, sample_times

PROVIDERS = ("stripe", "adyen", "paypal")
CARRIERS = ("DHL", "UPS", "DPD", "GLS")
DECLINES = ("insufficient_funds", "expired_card", "do_not_honor")

# step codes (also the tie-break order of steps logged in the same millisecond)
VALIDATED, DISCONTINUED, SHIPPING, COUPON, RETRY, SLOW, AUTHORIZED, DECLINED = range(8)
UPSTREAM, TIMEOUT, PLACED, PRICE_LIST, SESSION = range(8, 13)

P_SOLO = 0.12  # share of lines that are not part of an order
P_ABANDON = 0.15  # carts validated, then nothing
P_SHIPPING, P_COUPON, P_RARE = 0.55, 0.20, 0.004  # optional steps; RARE: a discontinued sku removed
P_RETRY, P_SLOW, P_DECLINE = 0.05, 0.03, 0.035  # around the payment step
_PAID = (1 - P_ABANDON) * (P_COUPON + P_RETRY + P_SLOW + 1 + (1 - P_DECLINE))
LINES_PER_ORDER = 1 + P_SHIPPING + P_RARE + _PAID


def _hex(rng: np.random.Generator, n: int, width: int) -> list[str]:
    h = rng.bytes(n * width // 2).hex()
    return [h[i : i + width] for i in range(0, n * width, width)]


def _after(rng: np.random.Generator, t: np.ndarray, lo_s: float, hi_s: float) -> np.ndarray:
    return t + rng.integers(int(lo_s * 1000), int(hi_s * 1000) + 1, size=len(t))


def _between(rng: np.random.Generator, a: np.ndarray, b: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """A time in ``a + [lo, hi) * (b - a)``: a step somewhere between validation and payment."""
    return a + ((b - a) * rng.uniform(lo, hi, size=len(a))).astype(np.int64)


def plan_checkout(
    rng: np.random.Generator,
    n: int,
    start_ms: int,
    end_ms: int,
    rate: np.ndarray,
    events: dict[str, Incident],
) -> tuple[np.ndarray, Cols]:
    """About ``n`` checkout lines: order traces started along ``rate`` plus single-line traces.

    Returns the sorted times and per-line columns ``step``, ``trace`` (index into the trace
    attributes), ``trace_id``, ``order``, ``customer``, ``host``, ``items``, ``cart``.
    """
    n_solo = int(round(n * P_SOLO))
    n_orders = int(round((n - n_solo) / LINES_PER_ORDER))
    t0 = sample_times(rng, n_orders, start_ms, rate)
    u = rng.random((7, n_orders))
    host = rng.integers(0, 3, size=n_orders)
    pay = t0 + 20_000 + (rng.lognormal(np.log(40.0), 0.7, size=n_orders) * 1000).astype(np.int64)
    paid = u[0] >= P_ABANDON
    failed = paid & (u[1] < P_DECLINE)
    upstream = np.zeros(n_orders, dtype=bool)
    skipped = np.zeros(n_orders, dtype=bool)
    spike, broken = events.get("error_spike"), events.get("order_flow_broken")
    if spike:
        upstream = paid & ~failed & spike.mask(pay) & (u[2] < 0.45)
    if broken:  # the bad release runs on checkout-2 and checkout-3 only
        skipped = paid & ~failed & broken.mask(pay) & (host > 0) & (u[2] < 0.65)
    ok = paid & ~failed & ~upstream
    idx = np.arange(n_orders)
    ship, coupon = u[4] < P_SHIPPING, paid & (u[5] < P_COUPON)
    steps = [
        (VALIDATED, idx, t0),
        (DISCONTINUED, idx[u[3] < P_RARE], _after(rng, t0[u[3] < P_RARE], 0.05, 0.5)),
        (SHIPPING, idx[ship], _between(rng, t0[ship], pay[ship], 0.05, 0.6)),
        (COUPON, idx[coupon], _between(rng, t0[coupon], pay[coupon], 0.1, 0.9)),
        (RETRY, idx[paid & (u[6] < P_RETRY)], _after(rng, pay[paid & (u[6] < P_RETRY)], -4, -1)),
        (SLOW, idx[ok & (u[6] > 1 - P_SLOW)], pay[ok & (u[6] > 1 - P_SLOW)] - 5),
        (AUTHORIZED, idx[ok & ~skipped], pay[ok & ~skipped]),
        (DECLINED, idx[failed], pay[failed]),
        (UPSTREAM, idx[upstream & (u[1] >= 0.3)], pay[upstream & (u[1] >= 0.3)]),
        (TIMEOUT, idx[upstream & (u[1] < 0.3)], pay[upstream & (u[1] < 0.3)]),
        (PLACED, idx[ok], _after(rng, pay[ok], 0.2, 2.5)),
    ]
    solo_t = sample_times(rng, n_solo, start_ms, rate)
    solo_step = np.where(rng.random(n_solo) < 0.85, PRICE_LIST, SESSION)
    times = np.concatenate([t for _, _, t in steps] + [solo_t])
    code = np.concatenate([np.full(len(i), s) for s, i, _ in steps] + [solo_step])
    trace = np.concatenate([i for _, i, _ in steps] + [n_orders + np.arange(n_solo)])
    keep = times < end_ms  # orders still open when the range ends are cut, as in a real day file
    times, code, trace = times[keep], code[keep], trace[keep]
    order = np.lexsort((code, times))
    trace = trace[order]
    n_traces = n_orders + n_solo
    ids = _hex(rng, n_traces, 32)
    carts = _hex(rng, n_traces, 12)
    attrs = {
        "order": rng.integers(10_000_000, 99_999_999, size=n_traces),
        "customer": rng.integers(100_000, 999_999, size=n_traces),
        "host": np.concatenate([host, rng.integers(0, 3, size=n_solo)]),
        "items": rng.integers(1, 10, size=n_traces),
    }
    tl = trace.tolist()
    cols: Cols = {k: v[trace].tolist() for k, v in attrs.items()}
    cols.update(step=code[order].tolist(), trace_id=[ids[i] for i in tl], cart=[carts[i] for i in tl])
    return times[order], cols


def render_checkout(
    rng: np.random.Generator, times: np.ndarray, incidents: dict[str, Incident], cols: Cols
) -> list[str]:
    """JSON lines with ms timestamps, trace ids, order ids and ``latency_ms``; ``cols`` from the planner."""
    n = len(times)
    ts = fmt_iso_ms(times)
    span = _hex(rng, n, 16)
    r1, r2 = rng.integers(0, 1 << 30, size=n).tolist(), rng.integers(0, 1 << 30, size=n).tolist()
    lat = rng.lognormal(np.log(45.0), 0.7, size=n).tolist()
    step, trace, order, cust = cols["step"], cols["trace_id"], cols["order"], cols["customer"]
    host, items, cart = cols["host"], cols["items"], cols["cart"]
    out = []
    for i in range(n):
        a, b, o, ms, k = r1[i], r2[i], order[i], lat[i], step[i]
        extra = ""
        level = "INFO"
        if k == PLACED:
            msg = f"Order ORD-{o} placed by customer C{cust[i]} with {items[i]} items, total {(b % 40000) / 100 + 5:.2f} EUR"
            ms *= 4
        elif k == VALIDATED:
            msg = f"Cart {cart[i]} validated in {ms:.0f} ms ({items[i]} lines)"
        elif k == AUTHORIZED:
            msg = f"Payment authorized for order ORD-{o} via {PROVIDERS[o % 3]}"
            ms *= 6
        elif k == COUPON:
            msg = f"Applied coupon WINTER{a % 100:02d} to order ORD-{o}: -{5 + b % 4 * 5}%"
        elif k == SHIPPING:
            msg = f"Shipping quote for order ORD-{o}: {CARRIERS[a % 4]} {(b % 1500) / 100 + 3.9:.2f} EUR, {1 + a % 5} days"
        elif k == PRICE_LIST:
            level, msg = "DEBUG", f"Price list v{200 + a % 40} loaded from cache in {ms / 20:.1f} ms"
            ms /= 20
        elif k == RETRY:
            level = "WARN"
            msg = f"Inventory reservation retry {1 + a % 3}/3 for sku SKU-{10000 + b % 90000} (order ORD-{o})"
        elif k == SLOW:
            ms *= 25
            level, msg = "WARN", f"Slow call to payments: {ms:.0f} ms for order ORD-{o}"
        elif k == DECLINED:
            level, msg = "ERROR", f"Payment declined for order ORD-{o}: {DECLINES[a % 3]}"
        elif k == SESSION:
            msg = f"Session s-{span[i][:10]} resumed for customer C{cust[i]}"
        elif k == DISCONTINUED:
            level = "WARN"
            msg = f"Removed discontinued sku SKU-{10000 + b % 90000} from cart {cart[i]}"
        elif k == UPSTREAM:
            ms = 2000 + ms * 40
            level = "ERROR"
            msg = f"Unhandled exception while placing order ORD-{o}: UpstreamError: payments returned HTTP {(502, 503)[b & 1]} after {ms:.0f} ms"
            extra = ',"error.type":"UpstreamError"'
        else:
            ms = 5000.0
            level = "ERROR"
            msg = f"Timeout after 5000 ms calling inventory at http://inventory:8080/api/reserve (order ORD-{o})"
            extra = ',"error.type":"TimeoutException"'
        out.append(
            f'{{"ts":"{ts[i]}","level":"{level}","service":"checkout","host":"checkout-{1 + host[i]}",'
            f'"trace_id":"{trace[i]}","span_id":"{span[i]}","msg":"{msg}","latency_ms":{ms:.1f},'
            f'"order_id":"ORD-{o}"{extra}}}'
        )
    return out
