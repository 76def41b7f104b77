#include "src/metrics/state_metrics.h"

#include <array>
#include <functional>
#include <string>

#include "base/bad_row.h"
#include "src/search_service.h"

namespace vecmirror::metrics {
namespace {

constexpr std::array<const char*, 5> kMirrorStates = {"connecting", "loading", "streaming",
                                                      "reconnecting", "failed"};
constexpr std::array<IndexKind, 3> kKinds = {IndexKind::kFlat, IndexKind::kHnsw, IndexKind::kIvf};

void One(TextWriter& out, const char* name, MetricType type, const char* help, double value) {
  out.Family(name, type, help);
  out.Sample(name, value);
}

double Seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

void WriteMirrorMetrics(const MirrorState& s, std::chrono::system_clock::time_point now,
                        TextWriter& out) {
  out.Family("vecmirror_mirror_info", MetricType::kGauge,
             "The replication slot and publication the mirror follows (value 1).");
  out.Sample("vecmirror_mirror_info", {{"slot", s.slot_name}, {"publication", s.publication}}, 1);
  One(out, "vecmirror_mirror_loaded", MetricType::kGauge,
      "1 once the first full load is complete (health SERVING), else 0.", s.loaded ? 1 : 0);
  out.Family("vecmirror_mirror_state", MetricType::kGauge,
             "The mirror's state: 1 for the current one, 0 for the others.");
  for (const char* state : kMirrorStates) {
    out.Sample("vecmirror_mirror_state", {{"state", state}}, s.state == state ? 1 : 0);
  }
  One(out, "vecmirror_mirror_applied_lsn_bytes", MetricType::kGauge,
      "WAL position (LSN, in bytes) of the last transaction applied to the indexes.",
      static_cast<double>(s.applied_lsn));
  One(out, "vecmirror_mirror_confirmed_lsn_bytes", MetricType::kGauge,
      "WAL position (LSN, in bytes) confirmed to PostgreSQL as flushed.",
      static_cast<double>(s.confirmed_lsn));
  One(out, "vecmirror_mirror_server_lsn_bytes", MetricType::kGauge,
      "PostgreSQL's current WAL position (LSN, in bytes) at the last poll.",
      static_cast<double>(s.server_lsn));
  One(out, "vecmirror_mirror_lag_bytes", MetricType::kGauge,
      "WAL bytes between the server's position and the applied one.",
      static_cast<double>(s.lag_bytes()));
  One(out, "vecmirror_mirror_lag_seconds", MetricType::kGauge,
      "Seconds the applied state is behind the primary (0 when caught up).",
      LagSecondsAt(s, now));
  One(out, "vecmirror_mirror_last_commit_applied_timestamp_seconds", MetricType::kGauge,
      "Unix time at which the last commit was applied; 0 before the first.",
      s.last_commit_applied_at.time_since_epoch().count() == 0 ? 0
                                                              : Seconds(s.last_commit_applied_at));
  One(out, "vecmirror_mirror_transactions_applied_total", MetricType::kCounter,
      "Committed transactions applied from the replication stream.",
      static_cast<double>(s.transactions_applied));
  One(out, "vecmirror_mirror_changes_applied_total", MetricType::kCounter,
      "Row changes applied, initial loads included.", static_cast<double>(s.changes_applied));
  One(out, "vecmirror_mirror_reconnects_total", MetricType::kCounter,
      "Times the mirror lost its PostgreSQL connection or stream and retried.",
      static_cast<double>(s.reconnects));
  One(out, "vecmirror_mirror_initial_loads_total", MetricType::kCounter,
      "Full loads from a snapshot (1 per start, more when the slot was lost).",
      static_cast<double>(s.initial_loads));
  out.Family("vecmirror_mirror_bad_rows_total", MetricType::kCounter,
             "Completed embedding rows that are not searchable, by reason.");
  for (size_t i = 0; i < kBadRowReasonCount; ++i) {
    const auto reason = static_cast<BadRowReason>(i);
    out.Sample("vecmirror_mirror_bad_rows_total", {{"reason", BadRowReasonName(reason)}},
               static_cast<double>(s.bad_rows[reason]));
  }
}

void WriteIndexMetrics(std::span<const IndexInfo> indexes, bool per_index, TextWriter& out) {
  struct KindTotals {
    double indexes = 0, live = 0, dead = 0, memory = 0;
  };
  std::array<KindTotals, kKinds.size()> totals{};
  for (const IndexInfo& info : indexes) {
    KindTotals& t = totals[static_cast<size_t>(info.stats.kind)];
    t.indexes += 1;
    t.live += static_cast<double>(info.stats.live);
    t.dead += static_cast<double>(info.stats.dead);
    t.memory += static_cast<double>(info.stats.memory_bytes);
  }
  const auto by_kind = [&](const char* name, const char* help, double KindTotals::*field) {
    out.Family(name, MetricType::kGauge, help);
    for (IndexKind kind : kKinds) {
      out.Sample(name, {{"kind", IndexKindName(kind)}}, totals[static_cast<size_t>(kind)].*field);
    }
  };
  by_kind("vecmirror_indexes", "Indexes, by kind.", &KindTotals::indexes);
  by_kind("vecmirror_indexes_live_rows", "Searchable rows in all indexes, by kind.",
          &KindTotals::live);
  by_kind("vecmirror_indexes_dead_rows", "Tombstoned slots in all indexes, by kind.",
          &KindTotals::dead);
  by_kind("vecmirror_indexes_memory_bytes", "Estimated memory of all indexes, by kind.",
          &KindTotals::memory);
  if (!per_index) return;

  const auto labels = [](const IndexInfo& info) -> Labels {
    return {{"tenant", info.key.tenant_id.ToString()},
            {"model", info.key.model},
            {"dimension", std::to_string(info.key.dim)}};
  };
  const auto each = [&](const char* name, const char* help,
                        const std::function<double(const IndexStats&)>& value) {
    out.Family(name, MetricType::kGauge, help);
    for (const IndexInfo& info : indexes) out.Sample(name, labels(info), value(info.stats));
  };
  each("vecmirror_index_live_rows", "Searchable rows of one index.",
       [](const IndexStats& s) { return static_cast<double>(s.live); });
  each("vecmirror_index_dead_rows", "Tombstoned slots of one index, until its next rebuild.",
       [](const IndexStats& s) { return static_cast<double>(s.dead); });
  each("vecmirror_index_tail_rows", "Rows added since the index's last build, scanned exactly.",
       [](const IndexStats& s) { return static_cast<double>(s.tail); });
  each("vecmirror_index_memory_bytes", "Estimated memory of one index.",
       [](const IndexStats& s) { return static_cast<double>(s.memory_bytes); });
  each("vecmirror_index_covered_lsn_bytes",
       "WAL position (LSN, in bytes) of the last transaction that changed the index.",
       [](const IndexStats& s) { return static_cast<double>(s.covered_lsn); });
  each("vecmirror_index_rebuilding", "1 while the index is being rebuilt, else 0.",
       [](const IndexStats& s) { return s.rebuilding ? 1.0 : 0.0; });
  out.Family("vecmirror_index_kind", MetricType::kGauge,
             "The kind of one index: 1 for its kind, 0 for the others.");
  for (const IndexInfo& info : indexes) {
    for (IndexKind kind : kKinds) {
      Labels l = labels(info);
      l.emplace_back("kind", IndexKindName(kind));
      out.Sample("vecmirror_index_kind", l, info.stats.kind == kind ? 1 : 0);
    }
  }
}

}  // namespace vecmirror::metrics
