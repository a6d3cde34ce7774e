"""The text report of ``aiops eval anomaly`` from its result dict (the same dict is written as JSON).

Example::

    >>> print(render({"window": "5m", "parts": [], "seconds": 0.0}).splitlines()[0])
    aiops eval anomaly: window 5m, parts -, 0.0s
"""

from __future__ import annotations

from aiops.demo import format_table

REFERENCES = (  # published F1 on the full HDFS_v1 (other samples and splits): context, not a like-for-like
    ("PCA", 0.77), ("Invariants Mining", 0.92), ("LogClustering", 0.84), ("DeepLog", 0.91),
    ("supervised decision tree", 0.998),
)  # fmt: skip


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def _missing_table(present: bool, table: str) -> list[str]:
    return [] if present else [f"(no '{table}' table in the output: read as no rows)"]


def render_hdfs(h: dict) -> list[str]:
    out = [f"\n== HDFS sessions (HDFS_20000.log, --session-key 'blk_-?\\d+') {'=' * 22}"]
    out += _missing_table(h["sessions_table"], "sessions")
    out.append(
        f"labelled blocks {h['labelled']:,}: {h['sessions_scored']:,} scored, {h['missing']:,} missing from the "
        f"output (counted as not flagged); {h['unlabelled_sessions']:,} unlabelled sessions not scored"
    )
    out.append(format_table(
        ["TP", "FP", "FN", "TN", "precision", "recall", "F1"],
        [(h["tp"], h["fp"], h["fn"], h["tn"], round(h["precision"], 4), round(h["recall"], 4), round(h["f1"], 4))],
    ))  # fmt: skip
    out.append(f"target F1 >= {h['target_f1']}: {_verdict(h['f1'] >= h['target_f1'])}")
    if "f1_ceiling" in h:
        out.append(
            f"best F1 ANY detector of template sequences can reach on this slice: {h['f1_ceiling']:.3f} "
            f"({h['anomalies_sharing_a_normal_sequence']} of the anomalous blocks have exactly the sequence of a "
            "normal block here: their labels come from events outside these 20,000 lines)"
        )
    out.append("published F1 on the full HDFS_v1: " + ", ".join(f"{n} {f}" for n, f in REFERENCES))
    if h["false_positives"]:
        out.append(
            "false positives: "
            + "; ".join(f"{r['session_id']} ({r['reason']})" for r in h["false_positives"][:5])
        )
    if h["false_negatives"]:
        out.append("false negatives: " + ", ".join(h["false_negatives"][:5]))
    return out


def render_bgl(b: dict) -> list[str]:
    out = [f"\n== BGL_2k alert windows {'=' * 54}"]
    out += _missing_table(b["anomalies_table"], "anomalies")
    out.append(
        f"lines {b['lines']:,} ({b['alert_lines']:,} alert lines, {b['alert_lines_without_event']:,} of them "
        f"in no event), events {b['events']:,}; a sparse sample over months: most windows hold few lines"
    )
    rows = [
        (name, s["alert_windows"], s["flagged_alert_windows"], round(s["recall"], 4), s["normal_windows"],
         s["flagged_normal_windows"], round(s["false_flag_rate"], 4))
        for name, s in b["scales"].items()
    ]  # fmt: skip
    out.append(
        format_table(["window", "alert", "flagged", "recall", "normal", "flagged", "false-flag rate"], rows)
    )
    out.append(
        "anomaly rows by kind: " + (", ".join(f"{k} {v}" for k, v in b["rows_by_kind"].items()) or "none")
    )
    for name, s in b["scales"].items():
        kinds = ", ".join(f"{k} {v['alert_windows']}/{v['normal_windows']}" for k, v in s["by_kind"].items())
        out.append(f"flagged windows by kind at {name} (alert/normal): {kinds or 'none'}")
    return out


def _clean_lines(day: str, c: dict) -> list[str]:
    out = [
        f"{day}: {c['flagged']:,} of {c['windows']:,} clean service-windows flagged = {_pct(c['share'])} "
        f"(target <= 1%: {_verdict(c['share'] <= 0.01)}); flagged windows in which the service logged "
        f"nothing: {c['flagged_silent_windows']:,}"
    ]
    if c["per_kind"]:
        out.append(
            "  per kind: "
            + ", ".join(f"{k} {v['flagged']} ({_pct(v['share'])})" for k, v in c["per_kind"].items())
        )
    out.append("  per service: " + ", ".join(
        f"{s} {v['flagged']}/{v['windows']} ({_pct(v['share'])})" for s, v in c["per_service"].items()
    ))  # fmt: skip
    return out


def render_injected(r: dict) -> list[str]:
    out = [
        f"\n== Injected incidents (day 2 after a clean day 1; seed {r['seed']}, {r['lines_per_day']:,} lines/day) =="
    ]
    out += _missing_table(r["anomalies_table"], "anomalies")
    d2 = r["day2"]
    rows = [
        (i["kind"], i["scenario"], i["service"], i["start"][5:16].replace("T", " "), i["end"][11:16],
         "yes" if i["found"] else "no", i["rows"], ",".join(i["other_kinds"]) or "-")
        for i in d2.get("incidents", [])
    ]  # fmt: skip
    out.append(
        format_table(["kind", "scenario", "service", "start", "end", "found", "rows", "other kinds"], rows)
    )
    rec = d2.get("recall", {})
    if rec:
        out.append("recall: " + ", ".join(f"{k} {v['found']}/{v['incidents']}" for k, v in rec.items()) +
                   f"  (target: every incident found: {_verdict(rec['all']['found'] == rec['all']['incidents'])})")  # fmt: skip
    incidents = d2.get("incidents", [])
    missed = [i for i in incidents if not i["found"]]
    other = [i for i in missed if i["other_kinds"]]
    if missed:
        out.append(
            "missed: "
            + "; ".join(f"{i['kind']}/{i['scenario']} {i['service']} {i['start'][11:16]}" for i in missed)
        )
    if other:
        out.append("found with another kind only: " + "; ".join(
            f"{i['scenario']} {i['service']} as {','.join(i['other_kinds'])}" for i in other
        ))  # fmt: skip
    out.append("anomaly rows: " + "; ".join(
        f"{day} {r[day]['rows']:,} ({', '.join(f'{k} {v}' for k, v in r[day]['rows_by_kind'].items()) or 'none'})"
        for day in ("day2", "day1")
    ))  # fmt: skip
    for day in ("day2", "day1"):
        out += _clean_lines(day, r[day]["clean"])
    for day in ("day2", "day1"):
        top = r[day]["clean"]["top"]
        if top:
            out.append(f"top flagged clean windows, {day}:")
            out.append(format_table(
                ["service", "window", "kind", "score", "threshold", "detail"],
                [(t["service"], t["window_start"][5:16].replace("T", " "), t["kind"], round(t["score"], 3),
                  round(t["threshold"], 3), t["detail"]) for t in top],
                width=90,
            ))  # fmt: skip
    return out


def render(result: dict) -> str:
    out = [
        f"aiops eval anomaly: window {result['window']}, parts {','.join(result['parts']) or '-'}, {result['seconds']}s"
    ]
    if "hdfs" in result:
        out += render_hdfs(result["hdfs"])
    if "bgl" in result:
        out += render_bgl(result["bgl"])
    if "injected" in result:
        out += render_injected(result["injected"])
    return "\n".join(out)
