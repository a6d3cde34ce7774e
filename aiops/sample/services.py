"""Record renderers for the request-serving services: ``web`` (nginx) and ``payments`` (logfmt).

Each renderer takes a seeded numpy ``Generator``, the sorted event times (ms), the incidents of
its service (by scenario) and optional per-record columns from a planner, and returns one string
per record (``checkout``, whose orders are traces, lives in :mod:`aiops.sample.checkout`). Random values are drawn as
whole arrays first and the per-line loop only looks them up and formats.

Example::

    >>> import numpy as np
    >>> from aiops.sample.services import render_web
    >>> line = render_web(np.random.default_rng(1), np.array([1795341600123]), {})[0]
    >>> line.split(" ")[3]
    '[22/Nov/2026:10:00:00'
"""

from __future__ import annotations

import functools

import numpy as np

from aiops.sample.common import Cols, Incident, fmt_iso_ms, fmt_nginx

UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "ShopApp/4.12.1 (iOS 18.1; iPhone15,2)",
    "ShopApp/4.12.0 (Android 14; SM-S918B)",
)
SCANNER_UAS = ("python-requests/2.32.3", "curl/8.5.0", "Mozilla/5.0 zgrab/0.x")
REFERERS = ("-", "-", "https://shop.example.com/", "https://www.google.com/", "https://shop.example.com/cart")
TERMS = ("shoes", "winter+jacket", "usb-c+cable", "coffee", "lego", "headphones", "gift+card", "socks")
ASSETS = ("app.3f9a2c1e.js", "vendor.81bd0e47.js", "main.c4e1a9d0.css", "fonts/inter-v12.woff2")
PROVIDERS = ("stripe", "adyen", "paypal")

# (method, path pattern, weight, latency median s, status profile)
ROUTES = (
    ("GET", "/", 6, 0.045, "page"),
    ("GET", "/products/{pid}", 14, 0.060, "page"),
    ("GET", "/api/products/{pid}", 16, 0.025, "api"),
    ("GET", "/api/search?q={term}&page={page}", 8, 0.120, "api"),
    ("GET", "/static/{asset}", 18, 0.002, "static"),
    ("GET", "/images/products/{pid}_{size}.jpg", 12, 0.004, "static"),
    ("GET", "/api/cart/{cart}", 6, 0.030, "api"),
    ("POST", "/api/cart/{cart}/items", 4, 0.055, "post"),
    ("DELETE", "/api/cart/{cart}/items/{sku}", 1, 0.040, "api"),
    ("POST", "/api/checkout", 2, 0.350, "checkout"),
    ("GET", "/api/orders/{oid}", 2, 0.040, "api"),
    ("POST", "/login", 2, 0.180, "login"),
    ("GET", "/account/orders?page={page}", 1, 0.090, "page"),
    ("GET", "/healthz", 5, 0.001, "health"),
    ("GET", "/wp-login.php", 0.3, 0.002, "scan"),
    ("GET", "/favicon.ico", 1, 0.001, "static"),
)
# status profile -> (cumulative probabilities, statuses)
_PROFILES = {
    "page": ((0.955, 0.975, 0.994, 0.998, 1.0), (200, 301, 404, 500, 502)),
    "api": ((0.962, 0.972, 0.992, 0.997, 0.999, 1.0), (200, 400, 404, 500, 503, 504)),
    "post": ((0.95, 0.98, 0.995, 1.0), (201, 400, 409, 500)),
    "checkout": ((0.93, 0.965, 0.99, 0.997, 1.0), (200, 402, 422, 500, 502)),
    "login": ((0.70, 0.90, 0.995, 1.0), (302, 200, 401, 429)),
    "static": ((0.80, 0.985, 1.0), (200, 304, 404)),
    "health": ((1.0,), (200,)),
    "scan": ((1.0,), (404,)),
}
_SPIKE = ((0.55, 0.60, 0.75, 0.92, 1.0), (200, 500, 502, 503, 504))  # api/checkout during the spike


def _hex(rng: np.random.Generator, n: int, width: int) -> list[str]:
    h = rng.bytes(n * width // 2).hex()
    return [h[i : i + width] for i in range(0, n * width, width)]


def _ints(rng: np.random.Generator, n: int, lo: int, hi: int) -> list[int]:
    return rng.integers(lo, hi, size=n).tolist()


def _paths(
    route: int, idx: list[int], a: list[int], b: list[int], pid: list[int], cart: list[str], oid: list[int]
) -> list[str]:
    pattern = ROUTES[route][1]
    if "{" not in pattern:
        return [pattern] * len(idx)
    if pattern.startswith("/api/cart/{cart}/items/"):
        return [f"/api/cart/{cart[i]}/items/SKU-{a[i] % 90000 + 10000}" for i in idx]
    if "{cart}" in pattern:
        return [pattern.replace("{cart}", cart[i]) for i in idx]
    if "{pid}_{size}" in pattern:
        return [f"/images/products/{pid[i]}_{'sml'[b[i] % 3]}.jpg" for i in idx]
    if "{pid}" in pattern:
        return [pattern.replace("{pid}", str(pid[i])) for i in idx]
    if "{oid}" in pattern:
        return [f"/api/orders/{oid[i]}" for i in idx]
    if "{asset}" in pattern:
        return [f"/static/{ASSETS[a[i] % 4]}" for i in idx]
    if "{term}" in pattern:
        return [f"/api/search?q={TERMS[a[i] % 8]}&page={1 + b[i] % 5}" for i in idx]
    return [f"/account/orders?page={1 + b[i] % 5}" for i in idx]


_PROFILE_NAMES = tuple(_PROFILES)


@functools.cache
def _client_pool() -> tuple[list[str], np.ndarray]:
    """The same 4000 client addresses for every seed and chunk; popularity ~ Zipf(1.05)."""
    rows = np.random.default_rng(20261122).integers(1, 255, size=(4000, 4)).tolist()
    pop = 1.0 / np.arange(1, len(rows) + 1) ** 1.05
    return [f"{a}.{b}.{c}.{d}" for a, b, c, d in rows], pop / pop.sum()


_SPIKEABLE = ("api", "checkout", "post")


def render_web(
    rng: np.random.Generator, times: np.ndarray, incidents: dict[str, Incident], cols: Cols | None = None
) -> list[str]:
    """nginx ``combined`` plus ``$request_time``: ``ip - user [time] "req" status bytes "ref" "ua" rt``."""
    n = len(times)
    ts = fmt_nginx(times)
    weights = np.array([r[2] for r in ROUTES], dtype=float)
    route = rng.choice(len(ROUTES), size=n, p=weights / weights.sum())
    pool, pop = _client_pool()
    ip = rng.choice(len(pool), size=n, p=pop).tolist()
    ua = rng.choice(len(UAS), size=n, p=np.array([26, 14, 22, 16, 6, 6, 3, 5, 2]) / 100).tolist()
    u_status = rng.random(n)
    lat = np.array([r[3] for r in ROUTES])[route] * rng.lognormal(0.0, 0.6, size=n)
    pid, cart, oid = _ints(rng, n, 1000, 99999), _hex(rng, n, 12), _ints(rng, n, 10_000_000, 99_999_999)
    r1, r2 = rng.integers(0, 1 << 30, size=n), rng.integers(0, 1 << 30, size=n)
    a_l, b_l = r1.tolist(), r2.tolist()
    spike = incidents.get("error_spike")
    prof = np.array([_PROFILE_NAMES.index(r[4]) for r in ROUTES])[route]
    in_spike = spike.mask(times) if spike else np.zeros(n, dtype=bool)
    in_spike &= np.isin(prof, [_PROFILE_NAMES.index(p) for p in _SPIKEABLE])
    status = np.zeros(n, dtype=np.int64)
    for k, name in enumerate(_PROFILE_NAMES):
        m = (prof == k) & ~in_spike
        cum, statuses = _PROFILES[name]
        status[m] = np.array(statuses)[np.searchsorted(cum, u_status[m])]
    cum, statuses = _SPIKE
    status[in_spike] = np.array(statuses)[np.searchsorted(cum, u_status[in_spike])]
    lat[in_spike] *= 8
    lat = np.where(status >= 500, lat * 3, lat)
    lat = np.where(status == 504, 60.0 + lat, lat)
    static, page = _PROFILE_NAMES.index("static"), _PROFILE_NAMES.index("page")
    size = np.select(
        [status >= 500, status == 304, prof == static, prof == page, prof == _PROFILE_NAMES.index("health")],
        [157 + r2 % 400, 0, 1800 + r1 % 250_000, 14_000 + r1 % 52_000, 2],
        120 + r1 % 6000,
    )
    paths: list[str] = [""] * n
    for r in range(len(ROUTES)):
        idx = np.flatnonzero(route == r).tolist()
        for i, path in zip(idx, _paths(r, idx, a_l, b_l, pid, cart, oid), strict=True):
            paths[i] = f"{ROUTES[r][0]} {path}"
    health, scan = _PROFILE_NAMES.index("health"), _PROFILE_NAMES.index("scan")
    prof_l, status_l, size_l = prof.tolist(), status.tolist(), size.tolist()
    rt = [f"{x:.3f}" for x in lat.tolist()]
    out = []
    for i in range(n):
        p, a, b = prof_l[i], a_l[i], b_l[i]
        if p == health:
            head = f"10.0.{b % 4}.{10 + a % 3} - - [{ts[i]}]"
            tail = '"-" "kube-probe/1.31"'
        elif p == scan:
            head = f"{pool[-1 - a % 50]} - - [{ts[i]}]"
            tail = f'"-" "{SCANNER_UAS[b % 3]}"'
        else:
            head = f"{pool[ip[i]]} - - [{ts[i]}]"
            tail = f'"{REFERERS[a % 5]}" "{UAS[ua[i]]}"'
        out.append(f'{head} "{paths[i]} HTTP/1.1" {status_l[i]} {size_l[i]} {tail} {rt[i]}')
    return out


# status=200 acquirer outcomes in normal traffic; "rate_limited" appears only in the incident
OUTCOMES = ((0.90, 0.96, 0.99, 1.0), ("approved", "challenge_required", "soft_declined", "referral"))


def render_payments(
    rng: np.random.Generator, times: np.ndarray, incidents: dict[str, Incident], cols: Cols | None = None
) -> list[str]:
    """logfmt: ``ts=... level=info host=... msg="..." provider=... latency_ms=... trace_id=...``."""
    n = len(times)
    ts = fmt_iso_ms(times)
    trace, ch = _hex(rng, n, 32), _hex(rng, n, 14)
    oid = _ints(rng, n, 10_000_000, 99_999_999)
    r1, r2 = _ints(rng, n, 0, 1 << 30), _ints(rng, n, 0, 1 << 30)
    lat = rng.lognormal(np.log(180.0), 0.45, size=n).tolist()
    kind = rng.choice(8, size=n, p=[0.34, 0.30, 0.05, 0.135, 0.12, 0.03, 0.02, 0.005]).tolist()
    u = rng.random(n)
    outcome = np.array(OUTCOMES[1])[np.searchsorted(OUTCOMES[0], u)].tolist()
    slow = incidents.get("latency_degradation")
    in_slow = slow.mask(times).tolist() if slow else [False] * n
    throttled = incidents.get("rate_limited_responses")
    if throttled:  # the gateway answers 200 with a throttling body, fast, for ~75% of calls
        for i in np.flatnonzero(throttled.mask(times) & (rng.random(n) < 0.75)).tolist():
            outcome[i] = "rate_limited"
    out = []
    for i in range(n):
        a, b, o, ms, k = r1[i], r2[i], oid[i], lat[i], kind[i]
        prov = PROVIDERS[a % 3]
        if in_slow[i]:
            ms *= 20
            if k == 4:
                k = 8
        amt = f"{(b % 40000) / 100 + 5:.2f}"
        if k == 0:
            level, msg, kv = (
                "info",
                f"Charge ch_{ch[i]} captured for order ORD-{o}",
                f" amount={amt} currency=EUR",
            )
        elif k == 1:
            level, msg = (
                "info",
                f"Authorization response for order ORD-{o}: {amt} EUR on card ending {1000 + a % 9000}",
            )
            kv = f" status=200 outcome={outcome[i]}"
            if outcome[i] == "rate_limited":
                ms *= 0.2
        elif k == 2:
            level, msg, kv = (
                "info",
                f"Refund re_{ch[i][:10]} issued for charge ch_{ch[i]}",
                f" amount={amt} currency=EUR",
            )
        elif k == 3:
            ms /= 10
            level, msg, kv = (
                "info",
                f"Webhook evt_{ch[i][:12]} received from {prov}",
                f" event_type={('charge.succeeded', 'charge.refunded', 'payout.paid')[b % 3]}",
            )
        elif k == 4:
            level, msg, kv = "debug", f"Idempotency key {trace[i][:16]} stored for order ORD-{o}", ""
            ms /= 30
        elif k == 5:
            level, msg, kv = "warn", f"Retrying acquirer call to {prov} (attempt {2 + a % 2}/3)", ""
        elif k == 6:
            level, msg, kv = (
                "error",
                f"Charge failed for order ORD-{o}: card_declined ({('05', '51', '54', '61')[b % 4]})",
                "",
            )
        elif k == 7:  # rare but normal: a provider's clock is off
            level, msg, kv = (
                "warn",
                f"Webhook evt_{ch[i][:12]} from {prov} rejected: signature timestamp {30 + a % 600}s old",
                "",
            )
            ms /= 10
        else:
            level, msg, kv = "warn", f"Acquirer {prov} responded slowly: {ms:.0f} ms", ""
        out.append(
            f'ts={ts[i]} level={level} host=payments-{1 + b % 2} msg="{msg}" provider={prov}{kv} '
            f"latency_ms={ms:.0f} trace_id={trace[i]}"
        )
    return out
