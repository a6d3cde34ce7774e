"""Record renderers for ``auth`` (RFC 3164 sshd syslog), ``inventory`` (Java, stack traces), ``worker`` (Python, tracebacks).

Same contract as :mod:`aiops.sample.services`: ``render_x(rng, times, incidents, cols) -> list[str]``;
a record may span several physical lines (joined with ``\\n``). Inventory's stock cache is
refreshed by a scheduler at a fixed period (:func:`plan_inventory`), so its line is periodic.

Example::

    >>> import numpy as np
    >>> from aiops.sample.apps import render_inventory
    >>> render_inventory(np.random.default_rng(1), np.array([1795341600123]), {})[0][:24]
    '2026-11-22 10:00:00,123 '
"""

from __future__ import annotations

from typing import cast

import numpy as np

from aiops.sample.common import (
    Cols,
    Incident,
    fmt_java,
    fmt_syslog,
    merge_sorted,
    nice_period_ms,
    sample_times,
)

USERS = ("alice", "bob", "carol", "deploy", "jenkins", "dave", "erin", "ansible", "backup", "frank")
ATTACK_USERS = (
    "admin",
    "root",
    "test",
    "oracle",
    "ubuntu",
    "user",
    "postgres",
    "git",
    "pi",
    "ftpuser",
    "guest",
)
WAREHOUSES = ("WH-BER-1", "WH-HAM-2", "WH-MUC-1", "WH-RTM-3")
JOBS = ("send_order_email", "generate_invoice", "sync_search_index", "resize_images", "export_report")
QUEUES = ("default", "emails", "reports", "media")


def _ints(rng: np.random.Generator, n: int, hi: int = 1 << 30) -> list[int]:
    return rng.integers(0, hi, size=n).tolist()


def render_auth(
    rng: np.random.Generator, times: np.ndarray, incidents: dict[str, Incident], cols: Cols | None = None
) -> list[str]:
    """sshd/CRON lines; host ``bastion-1`` logs without PRI, ``bastion-2`` is forwarded with ``<PRI>``."""
    n = len(times)
    ts = fmt_syslog(times)
    r1, r2, r3 = _ints(rng, n), _ints(rng, n), _ints(rng, n)
    kind = rng.choice(9, size=n, p=[0.16, 0.10, 0.22, 0.20, 0.08, 0.06, 0.08, 0.06, 0.04]).tolist()
    brute = incidents.get("brute_force")
    attack = (brute.mask(times) & (rng.random(n) < 0.97)).tolist() if brute else [False] * n
    office = [f"10.20.{a % 4}.{10 + a % 40}" for a in range(64)]
    scanners = [f"{45 + a % 150}.{a * 37 % 255}.{a * 11 % 255}.{1 + a * 7 % 250}" for a in range(40)]
    attacker = str(brute.details.get("source_ip")) if brute else ""
    out = []
    for i in range(n):
        a, b, c, k = r1[i], r2[i], r3[i], kind[i]
        port, pid = 32768 + b % 28000, 1000 + c % 60000
        user, ip = USERS[a % 10], office[b % 64]
        if attack[i]:
            k, ip, user = 9, attacker, ATTACK_USERS[a % 11] if b % 5 else USERS[a % 10]
        prog = f"sshd[{pid}]"
        if k == 0:
            msg = f"Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:{(a * 2654435761) % (1 << 32):08x}{c:08x}"
        elif k == 1:
            msg = f"Accepted password for {user} from {ip} port {port} ssh2"
        elif k == 2:
            msg = f"pam_unix(sshd:session): session opened for user {user}(uid={1000 + a % 10}) by (uid=0)"
        elif k == 3:
            msg = f"pam_unix(sshd:session): session closed for user {user}"
        elif k == 4:
            msg = f"Received disconnect from {ip} port {port}:11: disconnected by user"
        elif k == 5:
            ip = scanners[c % 40]
            msg = f"Invalid user {ATTACK_USERS[a % 11]} from {ip} port {port}"
        elif k == 6:
            ip = scanners[c % 40]
            msg = f"Failed password for invalid user {ATTACK_USERS[a % 11]} from {ip} port {port} ssh2"
        elif k == 7:
            msg = f"Failed password for {user} from {ip} port {port} ssh2"
        elif k == 8:
            prog = f"CRON[{pid}]"
            msg = "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"
        elif user in ATTACK_USERS:
            msg = f"Failed password for invalid user {user} from {ip} port {port} ssh2"
        else:
            msg = f"Failed password for {user} from {ip} port {port} ssh2"
        if c & 1:
            out.append(f"<{86 if k in (2, 3, 8) else 38}>{ts[i]} bastion-2 {prog}: {msg}")
        else:
            out.append(f"{ts[i]} bastion-1 {prog}: {msg}")
    return out


_JAVA_FRAMES = (
    "\tat com.shop.inventory.StockService.reserve(StockService.java:{l1})\n"
    "\tat com.shop.inventory.StockController.reserve(StockController.java:{l2})\n"
    "\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)\n"
    "\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)\n"
    "\tat org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:{l3})"
)
_CAUSE = (
    "Caused by: org.postgresql.util.PSQLException: ERROR: could not serialize access due to concurrent update\n"
    "\tat org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2733)\n"
    "\tat com.zaxxer.hikari.pool.ProxyPreparedStatement.executeUpdate(ProxyPreparedStatement.java:61)\n"
    "\t... {more} more"
)
_SYNC_TRACE = (
    "com.shop.inventory.sync.PayloadFormatException: Unexpected token '<' at offset {off} in response from {wh}\n"
    "\tat com.shop.inventory.sync.WarehouseClient.parse(WarehouseClient.java:{l1})\n"
    "\tat com.shop.inventory.sync.WarehouseSync.syncOnce(WarehouseSync.java:77)\n"
    "\tat org.springframework.scheduling.support.ScheduledMethodRunnable.run(ScheduledMethodRunnable.java:84)"
)


CACHE_SHARE = 0.05  # the periodic cache-refresh line's share of inventory records


def plan_inventory(
    rng: np.random.Generator,
    n: int,
    start_ms: int,
    end_ms: int,
    rate: np.ndarray,
    events: dict[str, Incident],
) -> tuple[np.ndarray, Cols]:
    """Request-driven records along ``rate`` plus the scheduler's cache refresh every period.

    The period is a round value (10 s .. 1 h) giving about ``CACHE_SHARE`` of the lines; each
    refresh logs when it ends, a few hundred ms after its tick. ``scheduled_job_stop`` removes
    the refreshes of its window. Column ``periodic`` marks the refresh records.
    """
    period = nice_period_ms(n * CACHE_SHARE, end_ms - start_ms)
    ticks = np.arange(start_ms + period // 2, end_ms, period, dtype=np.int64)
    ticks = ticks + rng.integers(80, 900, size=len(ticks))
    stop = events.get("scheduled_job_stop")
    ticks = ticks[(ticks < end_ms) & ~stop.mask(ticks)] if stop else ticks[ticks < end_ms]
    times, origin = merge_sorted([sample_times(rng, max(0, n - len(ticks)), start_ms, rate), ticks])
    return times, {"periodic": (origin == 1).tolist()}


def render_inventory(
    rng: np.random.Generator, times: np.ndarray, incidents: dict[str, Incident], cols: Cols | None = None
) -> list[str]:
    """``2026-11-22 10:00:00,123 INFO [thread] logger - message``, ERRORs carry stack traces."""
    n = len(times)
    ts = fmt_java(times)
    r1, r2, r3 = _ints(rng, n), _ints(rng, n), _ints(rng, n)
    lat = rng.lognormal(np.log(12.0), 0.8, size=n).tolist()
    # the cache refresh (3) comes from the scheduler only (cols["periodic"])
    kind = rng.choice(9, size=n, p=[0.37, 0.24, 0.15, 0.0, 0.065, 0.085, 0.045, 0.04, 0.005]).tolist()
    periodic = cols["periodic"] if cols and "periodic" in cols else [False] * n
    new = incidents.get("new_error")
    fresh = (new.mask(times) & (rng.random(n) < 0.12)).tolist() if new else [False] * n
    out = []
    for i in range(n):
        a, b, c, ms, k = r1[i], r2[i], r3[i], lat[i], kind[i]
        sku, thread = f"SKU-{10000 + a % 90000}", f"http-nio-8080-exec-{1 + c % 20}"
        if periodic[i]:
            k = 3
        elif fresh[i]:
            k = 9
        if k == 0:
            line = f"INFO [{thread}] com.shop.inventory.StockController - GET /api/stock/{sku} served in {ms:.0f} ms"
        elif k == 1:
            line = f"INFO [{thread}] com.shop.inventory.StockService - Reserved {1 + b % 5} units of {sku} for order ORD-{10_000_000 + c % 89_999_999}"
        elif k == 2:
            line = f"INFO [{thread}] com.shop.inventory.StockService - Released reservation R{b % 1_000_000:06d} ({1 + b % 5} units of {sku})"
        elif k == 3:
            line = f"INFO [cache-refresh-1] com.shop.inventory.cache.StockCache - Cache refresh took {ms * 3:.0f} ms ({20000 + b % 5000} entries)"
        elif k == 4:
            line = f"INFO [scheduling-1] com.shop.inventory.sync.WarehouseSync - Synced {500 + b % 3000} stock levels from warehouse {WAREHOUSES[a % 4]} in {ms * 40:.0f} ms"
        elif k == 5:
            line = f"WARN [{thread}] com.shop.inventory.StockService - Low stock for {sku}: {b % 5} units left (threshold 5)"
        elif k == 6:
            line = f"WARN [{thread}] com.zaxxer.hikari.pool.HikariPool - HikariPool-1 - Connection is not available, request timed out after {30000 + b % 200}ms."
        elif k == 7:
            line = f"ERROR [{thread}] com.shop.inventory.StockController - Failed to reserve stock for order ORD-{10_000_000 + c % 89_999_999}\njava.lang.IllegalStateException: Stock level negative for {sku}: -{1 + b % 4}\n"
            line += _JAVA_FRAMES.format(l1=120 + b % 40, l2=50 + a % 15, l3=140 + c % 50)
            if b & 1:
                line += "\n" + _CAUSE.format(more=10 + a % 8)
        elif k == 8:
            line = f"ERROR [main] com.shop.inventory.Application - Health check failed: database ping took {ms * 100:.0f} ms"
        else:
            wh = WAREHOUSES[a % 4]
            line = f"ERROR [scheduling-1] com.shop.inventory.sync.WarehouseSync - Warehouse sync aborted for {wh}\n"
            line += _SYNC_TRACE.format(off=b % 90000, wh=wh, l1=200 + a % 30)
        out.append(f"{ts[i]} {line}")
    return out


_TRACEBACKS = (
    '  File "/app/worker/jobs.py", line {l1}, in run\n    result = handler(**payload)\n'
    '  File "/app/worker/invoices.py", line {l2}, in generate_invoice\n    address = order["billing_address"]\n'
    "KeyError: 'billing_address'",
    '  File "/app/worker/jobs.py", line {l1}, in run\n    result = handler(**payload)\n'
    '  File "/app/worker/search.py", line {l2}, in sync_search_index\n    resp = session.post(url, json=batch, timeout=10)\n'
    '  File "/usr/local/lib/python3.12/site-packages/requests/sessions.py", line 637, in post\n'
    '    return self.request("POST", url, data=data, json=json, **kwargs)\n'
    "requests.exceptions.ConnectionError: HTTPConnectionPool(host='search', port=9200): Max retries exceeded with url: /_bulk",
)


def render_worker(
    rng: np.random.Generator, times: np.ndarray, incidents: dict[str, Incident], cols: Cols | None = None
) -> list[str]:
    """``2026-11-22 10:00:00,123 LEVEL logger: message`` with occasional Python tracebacks.

    ``throughput_drop``: the line rate is cut by the generator; here the scheduler's queue polling
    keeps its normal absolute rate (so jobs fall further), pending counts grow and only
    ``worker-1`` sends heartbeats. ``nightly_report_export``: the extra lines are export jobs.
    """
    n = len(times)
    ts = fmt_java(times)
    r1, r2, r3 = _ints(rng, n), _ints(rng, n), _ints(rng, n)
    dur = rng.lognormal(np.log(0.8), 1.0, size=n).tolist()
    kind = rng.choice(8, size=n, p=[0.32, 0.32, 0.12, 0.14, 0.05, 0.03, 0.017, 0.003])
    u = rng.random(n)
    drop, export = incidents.get("throughput_drop"), incidents.get("nightly_report_export")
    in_drop = drop.mask(times) if drop else np.zeros(n, dtype=bool)
    if drop:  # polling keeps its 14% of the normal rate: at 28% of the rate it is half the lines
        share = min(1.0, 0.14 / cast(float, drop.details.get("factor", 0.28)))
        kind[in_drop & (u < (share - 0.14) / 0.86)] = 3
    since = ((times - drop.start_ms) // 60_000).tolist() if drop else [0] * n
    exporting = (export.mask(times) & (u < 1 / 3) & (kind <= 1)).tolist() if export else [False] * n
    kind_l, in_drop_l = kind.tolist(), in_drop.tolist()
    out = []
    for i in range(n):
        a, b, c, k = r1[i], r2[i], r3[i], kind_l[i]
        job, jt = 400_000 + a % 600_000, "export_report" if exporting[i] else JOBS[b % 5]
        if k == 0:
            line = (
                f"INFO worker.jobs: Job {job} ({jt}) started, queue={QUEUES[b % 4]} attempt={1 + c % 3 // 2}"
            )
        elif k == 1:
            line = f"INFO worker.jobs: Job {job} ({jt}) finished in {dur[i]:.2f}s"
        elif k == 2:
            line = f"INFO worker.email: Sent order confirmation to {USERS[c % 10][0]}***@example.com (message id <{a:x}.{b:x}@mail.shop.example.com>)"
        elif k == 3:
            pending = c % 40 + (since[i] * (8 + b % 5) if in_drop_l[i] else 0)
            line = f"DEBUG worker.scheduler: Polling queue {QUEUES[b % 4]}: {pending} jobs pending"
        elif k == 4:
            line = f"WARNING worker.jobs: Job {job} ({jt}) retry {1 + c % 5}/5 in {2 ** (1 + c % 5)}s: {('connection reset', 'lock timeout', 'HTTP 429')[a % 3]}"
        elif k == 5:
            line = f"ERROR worker.jobs: Job {job} ({jt}) failed after {dur[i] * 5:.2f}s\nTraceback (most recent call last):\n"
            line += _TRACEBACKS[c & 1].format(l1=80 + a % 20, l2=30 + b % 40)
        elif k == 6:
            worker = 1 if in_drop_l[i] else 1 + a % 4
            line = f"INFO celery.worker.consumer: heartbeat from worker-{worker}@jobs-{b % 3} ({c % 1000} tasks processed)"
        else:  # rare but normal
            line = f"WARNING worker.media: Skipped resize of image {job}: source object missing in bucket media-originals"
        out.append(f"{ts[i]} {line}")
    return out
