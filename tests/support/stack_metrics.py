"""Metrics the stack components themselves expose, for the "no dangling metric names" checks.

Only names that rules or dashboards use need to be here; each one is checked against the real
component where one runs: Prometheus and Alertmanager (native binaries) in tests/e2e, Loki,
Promtail and Grafana in tests/stack (Docker), where every dashboard metric must have data.
Series names are listed as queried (histograms by their _bucket/_count/_sum series).
"""

from __future__ import annotations

# Series Prometheus creates itself rather than scrapes (per target or per alerting rule).
PROMETHEUS_SYNTHETIC = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
        "ALERTS",
        "ALERTS_FOR_STATE",
    }
)

STACK_METRICS: dict[str, frozenset[str]] = {
    "prometheus": frozenset(
        {
            "prometheus_tsdb_head_samples_appended_total",
            "prometheus_tsdb_head_series",
            "prometheus_rule_group_last_duration_seconds",
            "prometheus_rule_evaluation_failures_total",
            "prometheus_notifications_sent_total",
            "prometheus_notifications_errors_total",
            "prometheus_notifications_dropped_total",
            "prometheus_config_last_reload_successful",
            "prometheus_notifications_alertmanagers_discovered",
            "prometheus_tsdb_storage_blocks_bytes",
            "prometheus_tsdb_wal_storage_size_bytes",
            # Used by prometheus/rules/stack.rules.yml; names read from the /metrics of the native
            # Prometheus 3.5.3 (`make tools`) started with --storage.tsdb.retention.size.
            "prometheus_tsdb_compactions_failed_total",
            "prometheus_tsdb_head_truncations_failed_total",
            "prometheus_tsdb_reloads_failures_total",
            "prometheus_tsdb_wal_corruptions_total",
            "prometheus_tsdb_head_chunks_storage_size_bytes",
            "prometheus_tsdb_retention_limit_bytes",
        }
    ),
    "alertmanager": frozenset(
        {
            "alertmanager_alerts",
            "alertmanager_alerts_received_total",
            "alertmanager_silences",
            "alertmanager_notifications_total",
            "alertmanager_notifications_failed_total",
            "alertmanager_notification_latency_seconds_bucket",
            "alertmanager_config_last_reload_successful",
        }
    ),
    "loki": frozenset(
        {
            "loki_distributor_lines_received_total",
            "loki_distributor_bytes_received_total",
            "loki_request_duration_seconds_bucket",
            "loki_request_duration_seconds_count",
            "loki_discarded_samples_total",
        }
    ),
    "promtail": frozenset(
        {
            "promtail_sent_entries_total",
            "promtail_dropped_entries_total",
            "promtail_request_duration_seconds_count",
        }
    ),
    # The `alloy` profile's shipper; used by LogShipperNotSending (loki.write's own counter).
    "alloy": frozenset({"loki_write_sent_entries_total"}),
    # The optional `host` profile; used by HostDiskFillingUp (prometheus/rules/stack.rules.yml).
    "node-exporter": frozenset(
        {
            "node_filesystem_avail_bytes",
            "node_filesystem_size_bytes",
            "node_filesystem_readonly",
        }
    ),
    "grafana": frozenset(
        {
            "grafana_http_request_duration_seconds_count",
        }
    ),
}

# Alertmanager exposes these only as a cluster member (compose.yaml always makes it one; the
# single native Alertmanager of tests/e2e runs without gossip): checked against the two clustered
# ones in tests/e2e/test_alertmanager_cluster.py.
ALERTMANAGER_CLUSTER_METRICS = frozenset({"alertmanager_cluster_members"})

# Every Go or Python process the stack scrapes exposes these (client libraries' process collector).
PROCESS_METRICS = frozenset({"process_resident_memory_bytes", "process_cpu_seconds_total"})


def stack_metric_names() -> frozenset[str]:
    """Every metric name the stack components (not the bot) provide."""
    names = set(PROMETHEUS_SYNTHETIC) | PROCESS_METRICS | ALERTMANAGER_CLUSTER_METRICS
    for component in STACK_METRICS.values():
        names |= component
    return frozenset(names)
