#!/usr/bin/env python3
# Writes concord-dashboard.json (python3 ops/grafana/concord-dashboard.py > ops/grafana/concord-dashboard.json);
# make check-ops checks that the committed JSON is what this prints.
import json
panels = []
y = 0
pid = 1
def ds(): return {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
def panel(title, targets, unit="short", kind="timeseries", w=12, h=8, description="", overrides=None):
    global pid
    p = {
        "id": pid, "type": kind, "title": title, "description": description, "datasource": ds(),
        "gridPos": {"h": h, "w": w, "x": 0, "y": 0},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": overrides or []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}} if kind == "timeseries" else
                   {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "value",
                    "graphMode": "area", "textMode": "auto", "orientation": "auto"},
        "targets": [{"datasource": ds(), "refId": chr(65 + i), "expr": e, "legendFormat": l, "range": True}
                    for i, (e, l) in enumerate(targets)],
    }
    if kind == "stat":
        p["fieldConfig"]["defaults"]["thresholds"] = {"mode": "absolute", "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}]}
    pid += 1
    panels.append(p)
    return p

I = 'instance=~"$instance"'
R = "$__rate_interval"
def row(title):
    global pid
    panels.append({"id": pid, "type": "row", "title": title, "collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0, "y": 0}, "panels": []})
    pid += 1

row("Cluster")
panel("Replicas up", [(f"sum(concord_replicas_up{{{I}}})", "replicas up")], kind="stat", w=6, h=6,
      description="concord_replicas_up: how many replicas run.")
panel("Replica up", [(f"concord_replica_up{{{I}}}", "replica {{replica}}")], kind="stat", w=6, h=6,
      description="concord_replica_up per replica (1 runs, 0 down).")
panel("Bootstrapping", [(f"concord_bootstrapping{{{I}}}", "replica {{replica}}")], w=12, h=6,
      description="1 while a replica waits for a peer's state and refuses writes.")
row("Operations")
panel("Operations by operation", [(f"sum by (operation) (rate(concord_operations_total{{{I}}}[{R}]))", "{{operation}}")],
      unit="ops", description="concord_operations_total: reads, updates, transactions and CAS per second.")
panel("Operations by type", [(f"sum by (type) (rate(concord_operations_total{{{I}}}[{R}]))", "{{type}}")],
      unit="ops", description="concord_operations_total by CRDT type (transaction: multi-key transactions).")
panel("Operation latency p50 / p99", [
    (f"histogram_quantile(0.5, sum by (operation, le) (rate(concord_operation_latency_seconds_bucket{{{I}}}[{R}])))", "p50 {{operation}}"),
    (f"histogram_quantile(0.99, sum by (operation, le) (rate(concord_operation_latency_seconds_bucket{{{I}}}[{R}])))", "p99 {{operation}}"),
], unit="s", description="From the concord_operation_latency_seconds histogram. Targets: read 1 ms, write 2 ms, CAS 3 ms (p99, see the alerts).")
panel("Operation errors", [(f"sum by (operation, code) (rate(concord_operation_errors_total{{{I}}}[{R}]))", "{{operation}} {{code}}")],
      unit="ops", description="concord_operation_errors_total by ConcordError code (operation_rejected: a BoundedCounter refused).")
row("Replication")
panel("Replication lag per peer (time)", [(f"concord_replication_lag_ms{{{I}}}", "{{replica}} → {{peer}}")], unit="ms",
      description="How long the oldest transaction a peer has not acknowledged has waited. Alert over 5 s for 5 minutes.")
panel("Replication lag per peer (operations)", [(f"concord_replication_lag_operations{{{I}}}", "{{replica}} → {{peer}}")],
      description="Transactions a peer has not acknowledged.")
panel("CRDT conflicts", [(f"sum by (kind) (rate(concord_crdt_conflicts_total{{{I}}}[{R}]))", "{{kind}}")], unit="ops",
      description="concord_crdt_conflicts_total by kind: concurrent MV values, lost LWW assignments, add/remove and enable/disable races, BoundedCounter refusals.")
panel("State transfers", [(f"sum by (replica, direction) (increase(concord_state_transfers_total{{{I}}}[{R}]))", "{{replica}} {{direction}}")],
      description="Full state transfers sent and applied (a peer past the log bound, a wiped replica).")
panel("Messages", [
    (f"sum by (replica) (rate(concord_messages_sent_total{{{I}}}[{R}]))", "sent {{replica}}"),
    (f"sum by (replica) (rate(concord_messages_received_total{{{I}}}[{R}]))", "received {{replica}}"),
    (f"sum by (replica) (rate(concord_messages_unauthenticated_total{{{I}}}[{R}]))", "unauthenticated {{replica}}"),
], unit="ops", description="Messages between replicas per second; unauthenticated: dropped because their HMAC did not verify (encrypted clusters).")
panel("Bytes sent / received", [
    (f"sum by (replica) (rate(concord_bytes_sent_total{{{I}}}[{R}]))", "sent {{replica}}"),
    (f"sum by (replica) (rate(concord_bytes_received_total{{{I}}}[{R}]))", "received {{replica}}"),
], unit="Bps", description="Bytes of the messages between replicas per second.")
row("Storage")
panel("Log length vs bound", [
    (f"concord_log_length{{{I}}}", "log {{replica}}"),
    (f"concord_log_bound{{{I}}}", "bound {{replica}}"),
    (f"concord_buffered_intervals{{{I}}}", "buffered intervals {{replica}}"),
], description="Replication log entries kept for lagging peers, against Configuration.logBound; intervals waiting for their causal dependencies.")
panel("GC and compactions", [
    (f"sum by (replica) (rate(concord_gc_log_entries_collected_total{{{I}}}[{R}]))", "log entries collected {{replica}}"),
    (f"sum by (replica) (rate(concord_compactions_total{{{I}}}[{R}]))", "compactions {{replica}}"),
    (f"sum by (replica) (rate(concord_objects_compacted_total{{{I}}}[{R}]))", "objects compacted {{replica}}"),
], unit="ops", description="Garbage collection of stable log entries and compaction of causal metadata, per second.")
panel("Map used vs maximum", [
    (f"concord_map_used_bytes{{{I}}}", "used {{replica}}"),
    (f"concord_map_maximum_bytes{{{I}}}", "maximum {{replica}}"),
], unit="bytes", description="The LMDB map in use against Configuration.maximumMapSizeBytes. Alerts at 80% and 95%.")
panel("Map used", [(f"concord_map_used_bytes{{{I}}} / concord_map_maximum_bytes{{{I}}}", "{{replica}}")], unit="percentunit",
      description="Fraction of the maximum map in use.")
row("concord serve")
panel("Workload", [(f"sum by (outcome) (rate(concord_workload_transactions_total{{{I}}}[{R}]))", "{{outcome}}")], unit="ops",
      description="The --workload's transactions by outcome (operation_rejected: BoundedCounter refusals, on purpose).")
panel("HTTP requests", [(f"sum by (http_route, http_response_status_code) (rate(hb_requests_total{{{I}}}[{R}]))", "{{http_route}} {{http_response_status_code}}")],
      unit="reqps", description="Requests to concord serve (Hummingbird's MetricsMiddleware).")

# Layout: rows full width, panels flow two per line (stats narrower).
x, y, line_h = 0, 0, 0
for p in panels:
    w, h = p["gridPos"]["w"], p["gridPos"]["h"]
    if p["type"] == "row":
        if x: y += line_h
        p["gridPos"].update(x=0, y=y); y += 1; x, line_h = 0, 0
        continue
    if x + w > 24:
        y += line_h; x, line_h = 0, 0
    p["gridPos"].update(x=x, y=y)
    x += w; line_h = max(line_h, h)

dashboard = {
    "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "description": "The Prometheus that scrapes concord serve",
                  "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"}],
    "__requires": [
        {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.2.0"},
        {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
        {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""},
        {"type": "panel", "id": "stat", "name": "Stat", "version": ""},
    ],
    "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
                              "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"}]},
    "description": "Concord: an embedded CRDT database, as concord serve exposes it (see README.md, Monitoring).",
    "editable": True, "graphTooltip": 1, "id": None, "links": [],
    "panels": panels, "refresh": "10s", "schemaVersion": 39, "tags": ["concord", "crdt"],
    "templating": {"list": [{
        "name": "instance", "label": "instance", "type": "query", "datasource": ds(),
        "query": {"query": "label_values(concord_replicas_up, instance)", "refId": "instance"},
        "definition": "label_values(concord_replicas_up, instance)",
        "includeAll": True, "multi": True, "refresh": 2, "sort": 1, "current": {}, "options": [], "hide": 0,
    }]},
    "time": {"from": "now-30m", "to": "now"}, "timepicker": {}, "timezone": "",
    "title": "Concord", "uid": "concord-overview", "version": 1, "weekStart": "",
}
print(json.dumps(dashboard, indent=2, ensure_ascii=False))
