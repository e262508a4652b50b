"""The documented configuration keys of the pinned Loki (3.7) and Promtail (3.6), as key trees.

Only the sections our files use are spelled out; a section we do not use is `ANY`. Copied from the
upstream configuration references (Loki: docs/sources/shared/configuration.md; Promtail:
docs/sources/send-data/promtail/configuration.md and stages/*.md). A real `loki -verify-config` /
`promtail -check-syntax` run replaces this check when the binaries are on PATH (see the tests).

A tree is a dict of key -> subtree. Leaves: `LEAF` (a scalar or list of scalars), `ANY` (not
checked), `FREE` (a mapping with user-chosen keys). `[tree]` is a list whose items follow `tree`.
"""

from __future__ import annotations

from typing import Any

LEAF = "leaf"
ANY = "any"
FREE = "free"


def leaves(*names: str) -> dict[str, Any]:
    return dict.fromkeys(names, LEAF)


def unknown_keys(value: Any, tree: Any, path: str = "") -> list[str]:
    """Every key path in `value` that `tree` does not document."""
    if tree in (ANY, FREE):
        return []
    if tree == LEAF:
        return [] if not isinstance(value, dict) else [f"{path} (a mapping where a value belongs)"]
    if isinstance(tree, list):
        items = value if isinstance(value, list) else []
        return [
            err
            for i, item in enumerate(items)
            for err in unknown_keys(item, tree[0], f"{path}[{i}]")
        ]
    if not isinstance(value, dict):
        return [f"{path} (a value where a mapping belongs)"] if value is not None else []
    found = []
    for key, sub in value.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in tree:
            found.append(where)
        else:
            found.extend(unknown_keys(sub, tree[key], where))
    return found


_KVSTORE = {**leaves("store", "prefix"), "consul": ANY, "etcd": ANY, "multi": ANY}
_RING = {
    "kvstore": _KVSTORE,
    **leaves(
        "heartbeat_period", "heartbeat_timeout", "tokens_file_path", "zone_awareness_enabled",
        "num_tokens", "replication_factor", "instance_id", "instance_interface_names",
        "instance_port", "instance_addr", "instance_availability_zone", "instance_enable_ipv6",
    ),
}  # fmt: skip

LOKI: dict[str, Any] = {
    **leaves("target", "auth_enabled", "ballast_bytes"),
    **dict.fromkeys(
        (
            "ui", "distributor", "querier", "query_engine", "query_scheduler", "frontend",
            "ruler_storage", "ingester_client", "ingester", "pattern_ingester", "index_gateway",
            "bloom_build", "bloom_gateway", "storage_config", "chunk_store_config",
            "compactor_grpc_client", "frontend_worker", "memberlist", "kafka_config", "dataobj",
            "runtime_config", "operational_config", "tracing", "table_manager",
            "block_builder", "block_scheduler", "limits_frontend",
        ),
        ANY,
    ),
    "server": leaves(
        "http_listen_network", "http_listen_address", "http_listen_port", "http_listen_conn_limit",
        "grpc_listen_network", "grpc_listen_address", "grpc_listen_port", "grpc_listen_conn_limit",
        "register_instrumentation", "graceful_shutdown_timeout", "http_server_read_timeout",
        "http_server_write_timeout", "http_server_idle_timeout", "grpc_server_max_recv_msg_size",
        "grpc_server_max_send_msg_size", "grpc_server_max_concurrent_streams", "log_format",
        "log_level", "log_source_ips_enabled", "log_request_headers",
        "log_request_at_info_level_enabled",
        "http_path_prefix",
    ),
    "common": {
        **leaves(
            "path_prefix", "persist_tokens", "replication_factor", "instance_interface_names",
            "instance_addr", "compactor_address", "compactor_grpc_address",
        ),
        "storage": {
            **dict.fromkeys(
                ("s3", "gcs", "azure", "alibabacloud", "bos", "swift", "cos", "hedging",
                 "congestion_control", "object_store"),
                ANY,
            ),
            "filesystem": leaves("chunks_directory", "rules_directory"),
        },
        "ring": _RING,
    },
    "schema_config": {
        "configs": [
            {
                **leaves("from", "store", "object_store", "schema", "row_shards"),
                "index": leaves("prefix", "period", "path_prefix", "tags"),
                "chunks": leaves("prefix", "period", "tags"),
            }
        ]
    },
    "compactor": {
        **leaves(
            "working_directory", "compaction_interval", "apply_retention_interval",
            "retention_enabled", "retention_delete_delay", "retention_delete_worker_count",
            "retention_table_timeout", "delete_request_store", "delete_request_store_key_prefix",
            "delete_request_store_db_type", "delete_batch_size", "delete_request_cancel_period",
            "delete_max_interval", "max_compaction_parallelism", "upload_parallelism",
            "tables_to_compact", "skip_latest_n_tables",
        ),
        "retention_backoff_config": ANY,
        "compactor_ring": ANY,
    },
    "limits_config": {
        **leaves(
            "ingestion_rate_strategy", "ingestion_rate_mb", "ingestion_burst_size_mb",
            "max_label_name_length", "max_label_value_length", "max_label_names_per_series",
            "reject_old_samples", "reject_old_samples_max_age", "creation_grace_period",
            "max_line_size", "max_line_size_truncate", "increment_duplicate_timestamp",
            "discover_service_name", "discover_log_levels", "log_level_fields",
            "use_owned_stream_count", "max_streams_per_user", "max_global_streams_per_user",
            "unordered_writes", "per_stream_rate_limit", "per_stream_rate_limit_burst",
            "max_chunks_per_query", "max_query_series", "max_query_lookback", "max_query_length",
            "max_query_range", "max_query_parallelism", "tsdb_max_query_parallelism",
            "cardinality_limit", "max_streams_matchers_per_query", "max_concurrent_tail_requests",
            "max_entries_limit_per_query", "max_cache_freshness_per_query", "query_timeout",
            "split_queries_by_interval", "retention_period", "allow_structured_metadata",
            "max_structured_metadata_size", "max_structured_metadata_entries_count",
            "volume_enabled", "volume_max_series", "ruler_evaluation_delay_duration",
            "ruler_max_rules_per_rule_group", "ruler_max_rule_groups_per_tenant", "deletion_mode",
        ),
        "retention_stream": ANY,
        "otlp_config": ANY,
        "shard_streams": ANY,
        "ruler_alertmanager_config": ANY,
    },
    "ruler": {
        **leaves(
            "external_url", "datasource_uid", "rule_path", "evaluation_interval", "poll_interval",
            "alertmanager_url", "enable_alertmanager_discovery", "alertmanager_refresh_interval",
            "enable_alertmanager_v2", "notification_queue_capacity", "notification_timeout",
            "for_outage_tolerance", "for_grace_period", "resend_delay", "enable_sharding",
            "sharding_strategy", "sharding_algo", "search_pending_for", "flush_period",
            "enable_api", "enabled_tenants", "disabled_tenants", "query_stats_enabled",
            "disable_rule_group_label",
        ),
        "external_labels": FREE,
        "alert_relabel_configs": ANY,
        "alertmanager_client": ANY,
        "storage": {
            "type": LEAF,
            "local": leaves("directory"),
            **dict.fromkeys(("s3", "gcs", "azure", "alibabacloud", "bos", "swift", "cos"), ANY),
        },
        "ring": _RING,
        "wal": ANY,
        "wal_cleaner": ANY,
        "remote_write": ANY,
        "evaluation": ANY,
    },
    "query_range": {
        **leaves(
            "align_queries_with_step", "cache_results", "max_retries",
            "parallelise_shardable_queries", "cache_index_stats_results",
            "cache_volume_results", "cache_instant_metric_results",
        ),
        "results_cache": {
            "cache": {
                "embedded_cache": leaves("enabled", "max_size_mb", "max_size_items", "ttl"),
                **dict.fromkeys(
                    ("memcached", "memcached_client", "redis", "default_validity"), ANY
                ),
            },
            "compression": LEAF,
        },
        **dict.fromkeys(
            ("index_stats_results_cache", "volume_results_cache", "instant_metric_results_cache",
             "series_results_cache", "label_results_cache"),
            ANY,
        ),
    },
    "analytics": leaves("reporting_enabled", "reporting_url", "proxy_url"),
}  # fmt: skip

_RELABEL = leaves(
    "source_labels", "separator", "target_label", "regex", "modulus", "replacement", "action"
)

# Pipeline stages: one key per list item, naming the stage.
_STAGES: dict[str, Any] = {
    "docker": LEAF,
    "cri": ANY,
    "decolorize": LEAF,
    "multiline": leaves("firstline", "max_wait_time", "max_lines"),
    "regex": leaves("expression", "source"),
    "json": {"expressions": FREE, **leaves("source", "drop_malformed")},
    "logfmt": {"mapping": FREE, "source": LEAF},
    "replace": leaves("expression", "source", "replace"),
    "template": leaves("source", "template"),
    "pack": leaves("labels", "ingest_timestamp"),
    "timestamp": leaves("source", "format", "fallback_formats", "location", "action_on_failure"),
    "output": leaves("source"),
    "labels": FREE,
    "structured_metadata": FREE,
    "static_labels": FREE,
    "labeldrop": LEAF,
    "labelallow": LEAF,
    "metrics": ANY,
    "tenant": leaves("label", "source", "value"),
    "drop": leaves(
        "source", "separator", "expression", "value", "older_than", "longer_than",
        "drop_counter_reason",
    ),
    "limit": ANY,
    "sampling": ANY,
}  # fmt: skip
_STAGES["match"] = {
    **leaves("selector", "pipeline_name", "action", "drop_counter_reason"),
    "stages": [_STAGES],
}

PROMTAIL: dict[str, Any] = {
    "global": ANY,
    "server": leaves(
        "disable", "profiling_enabled", "http_listen_address", "http_listen_port",
        "grpc_listen_address", "grpc_listen_port", "register_instrumentation",
        "graceful_shutdown_timeout", "http_server_read_timeout", "http_server_write_timeout",
        "http_server_idle_timeout", "grpc_server_max_recv_msg_size",
        "grpc_server_max_send_msg_size", "grpc_server_max_concurrent_streams", "log_level",
        "http_path_prefix", "health_check_target", "enable_runtime_reload",
    ),
    "clients": [
        {
            **leaves(
                "url", "tenant_id", "batchwait", "batchsize", "bearer_token", "bearer_token_file",
                "proxy_url", "drop_rate_limited_batches", "timeout",
            ),
            "headers": FREE,
            "external_labels": FREE,
            "basic_auth": leaves("username", "password", "password_file"),
            "oauth2": ANY,
            "tls_config": ANY,
            "backoff_config": leaves("min_period", "max_period", "max_retries"),
        }
    ],
    "positions": leaves("filename", "sync_period", "ignore_invalid_yaml"),
    "scrape_configs": [
        {
            "job_name": LEAF,
            "pipeline_stages": [_STAGES],
            "relabel_configs": [_RELABEL],
            "docker_sd_configs": [
                {
                    **leaves(
                        "host", "proxy_url", "port", "host_networking_host",
                        "match_first_network", "refresh_interval", "follow_redirects",
                    ),
                    "filters": [leaves("name", "values")],
                    "tls_config": ANY,
                    "basic_auth": ANY,
                    "authorization": ANY,
                    "oauth2": ANY,
                }
            ],
            **dict.fromkeys(
                ("decompression", "journal", "encoding", "syslog", "loki_push_api",
                 "windows_events", "gcplog", "azure_event_hub", "kafka", "gelf", "cloudflare",
                 "heroku_drain", "static_configs", "file_sd_configs", "kubernetes_sd_configs",
                 "consul_sd_configs", "consulagent_sd_configs"),
                ANY,
            ),
        }
    ],
    "limits_config": leaves(
        "readline_rate_enabled", "readline_rate", "readline_burst", "readline_rate_drop",
        "max_streams", "max_line_size", "max_line_size_truncate",
    ),
    "target_config": leaves("sync_period"),
    "options": ANY,
    "tracing": leaves("enabled"),
}  # fmt: skip


def stage_errors(stages: list[dict[str, Any]], path: str) -> list[str]:
    """Each pipeline item must name exactly one known stage."""
    found = []
    for i, stage in enumerate(stages):
        if not isinstance(stage, dict) or len(stage) != 1:
            found.append(f"{path}[{i}] (a stage is a mapping with exactly one key)")
            continue
        (name,) = stage
        if name == "match":
            found.extend(stage_errors(stage[name].get("stages") or [], f"{path}[{i}].match.stages"))
    return found
