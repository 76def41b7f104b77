#include "tools/rebuild/rebuild_cli.h"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "base/model_list.h"
#include "index/model_catalog.h"
#include "index/policy.h"
#include "index/registry.h"
#include "index/snapshot.h"
#include "src/initial_load.h"
#include "src/mirror.h"
#include "src/mirrored_tables.h"
#include "src/pg/catalog.h"
#include "src/pg/replication_stream.h"
#include "src/replicator.h"
#include "tools/cli/rebuild_progress.h"
#include "tools/cli/table.h"
#include "tools/rebuild/build_plan.h"
#include "tools/rebuild/parallel_build.h"

namespace vecmirror::rebuild {
namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  std::string database_url;
  std::string slot = "vecmirror";
  std::string publication = "vecmirror";
  std::string schema = "public";
  std::string entity_table = "entity";
  std::string embedding_table = "embedding";
  std::vector<std::string> models;
  std::string snapshot_dir;
  size_t snapshot_keep = 2;
  std::string from_snapshot;
  std::vector<std::string> tenants;
  std::vector<std::string> only_models;
  std::string kind;
  std::string ann_kind = "hnsw";
  IndexOptions index;
  size_t jobs = std::max(1u, std::thread::hardware_concurrency());
  uint64_t max_memory_bytes = 0;
  bool dry_run = false;
};

std::string Bytes(uint64_t bytes) {
  char text[32];
  if (bytes >= (uint64_t{1} << 30)) std::snprintf(text, sizeof text, "%.2f GiB", bytes / 1073741824.0);
  else if (bytes >= (uint64_t{1} << 20)) std::snprintf(text, sizeof text, "%.1f MiB", bytes / 1048576.0);
  else std::snprintf(text, sizeof text, "%.1f KiB", bytes / 1024.0);
  return text;
}

v1::IndexKind ProtoKind(IndexKind kind) {
  switch (kind) {
    case IndexKind::kFlat: return v1::INDEX_KIND_FLAT;
    case IndexKind::kHnsw: return v1::INDEX_KIND_HNSW;
    case IndexKind::kIvf: return v1::INDEX_KIND_IVF;
  }
  return v1::INDEX_KIND_UNSPECIFIED;
}

// The rows built so far, per index, from IndexOptions::on_rebuild_progress (build threads).
class BuildCounters {
 public:
  void Report(const IndexKey& key, const RebuildProgress& p) {
    std::lock_guard lock(mu_);
    done_[key] = p.finished ? p.rows_total : p.rows_done;
  }
  size_t Done(const IndexKey& key) const {
    std::lock_guard lock(mu_);
    auto it = done_.find(key);
    return it == done_.end() ? 0 : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<IndexKey, size_t> done_;
};

// The loaded state the builds run over: from PostgreSQL (a Registry and the Mirror that filled
// it) or from a snapshot (its indexes).
struct Source {
  SnapshotSource source;
  uint64_t lsn = 0;
  std::vector<std::string> type_names;
  std::string mirror_state;
  std::vector<EntityIndex*> indexes;
  std::string description;
  // Owners.
  std::unique_ptr<Registry> registry;
  std::unique_ptr<ModelCatalog> models;
  std::unique_ptr<MirrorStatusBoard> board;
  std::unique_ptr<Mirror> mirror;
  std::vector<std::shared_ptr<EntityIndex>> registry_indexes;
  std::vector<std::unique_ptr<EntityIndex>> loaded_indexes;
};

Status LoadFromSnapshot(const Flags& flags, const IndexOptions& options, Source* out) {
  LoadedSnapshot loaded;
  std::vector<std::string> rejected;
  if (Status s = LoadNewestSnapshotOfAnySource(flags.from_snapshot, options, &loaded, &rejected);
      !s.ok()) {
    std::string why = s.message();
    for (const std::string& r : rejected) why += "\n  " + r;
    return Status::NotFound(why);
  }
  out->source = loaded.source;
  out->lsn = loaded.lsn;
  out->type_names = std::move(loaded.type_names);
  out->mirror_state = std::move(loaded.mirror_state);
  out->description = "snapshot " + loaded.path + " at " + pg::FormatLsn(loaded.lsn);
  out->loaded_indexes = std::move(loaded.indexes);
  for (auto& index : out->loaded_indexes) out->indexes.push_back(index.get());
  return Status::Ok();
}

Status LoadFromDatabase(const Flags& flags, const IndexOptions& options,
                        const std::vector<ModelDimension>& models, Source* out) {
  ReplicatorOptions r;  // the service's names and columns
  r.conninfo = flags.database_url;
  r.slot_name = flags.slot;
  r.publication = flags.publication;
  r.entity_table = {flags.schema, flags.entity_table};
  r.embedding_table = {flags.schema, flags.embedding_table};
  std::unique_ptr<pqxx::connection> control;
  try {
    control = std::make_unique<pqxx::connection>(r.conninfo);
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("cannot connect to PostgreSQL: ") + e.what());
  }
  if (Status s = pg::CheckReplicationPrerequisites(*control); !s.ok()) return s;
  if (!flags.dry_run) {
    if (Status s = pg::EnsurePublication(*control, r.publication, {r.entity_table, r.embedding_table});
        !s.ok()) {
      return s;
    }
  }
  MirroredTables tables(r.entity_table, r.entity_columns, r.embedding_table, r.embedding_columns);
  if (Status s = tables.ReadCatalog(*control); !s.ok()) return s;

  out->registry = std::make_unique<Registry>(options);
  out->models = std::make_unique<ModelCatalog>(models, ModelLearning{});
  out->board = std::make_unique<MirrorStatusBoard>();
  out->mirror = std::make_unique<Mirror>(*out->registry, *out->models, *out->board);

  std::unique_ptr<pg::ReplicationStream> stream;
  if (Status s = pg::ReplicationStream::Connect(r.conninfo, &stream); !s.ok()) return s;
  pg::SystemIdentity identity;
  if (Status s = stream->IdentifySystem(&identity); !s.ok()) return s;
  out->source = SnapshotSource{identity.system_identifier, identity.database, r.slot_name,
                               r.publication};
  if (flags.dry_run) {
    // Count what a build would hold without touching the slot: the same load under a snapshot
    // exported by a plain transaction.
    try {
      pqxx::connection exporter(r.conninfo);
      pqxx::work tx(exporter);
      tx.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      pg::CreatedSlot snapshot;
      snapshot.snapshot_name = tx.exec1("SELECT pg_export_snapshot()")[0].as<std::string>();
      snapshot.consistent_point = 0;
      std::unique_ptr<pg::PgConnection> conn;
      if (Status s = pg::PgConnection::Connect(r.conninfo, false, &conn); !s.ok()) return s;
      if (Status s = LoadSnapshot(*conn, snapshot, tables, *out->mirror); !s.ok()) return s;
    } catch (const std::exception& e) {
      return Status::Unavailable(std::string("exporting a snapshot: ") + e.what());
    }
    out->description = "database " + identity.database + " (dry run: slot untouched)";
  } else {
    pg::CreatedSlot slot;
    if (Status s = CreateSlotAndLoad(*control, *stream, r.conninfo, r.slot_name, tables,
                                     *out->mirror, nullptr, &slot);
        !s.ok()) {
      return s;
    }
    out->lsn = slot.consistent_point;
    out->description = "database " + identity.database + ", slot " + r.slot_name +
                       " recreated at " + pg::FormatLsn(slot.consistent_point);
  }
  out->mirror_state = out->mirror->EncodeState();
  for (const IndexInfo& info : out->registry->List()) {
    out->registry_indexes.push_back(out->registry->Find(info.key));
    out->indexes.push_back(out->registry_indexes.back().get());
  }
  return Status::Ok();
}

void PrintPlan(const std::vector<PlannedBuild>& plan, const BuildLimits& limits, std::ostream& out) {
  cli::Table table({{"index"}, {"rows", true}, {"kind"}, {"build memory", true}, {"action"}});
  for (const PlannedBuild& p : plan) {
    table.AddRow({p.key.ToString(), std::to_string(p.rows), IndexKindName(p.kind),
                  p.selected ? Bytes(p.build_bytes) : "-", p.selected ? "build" : "keep as is"});
  }
  table.Print(out);
  out << "loaded indexes: " << Bytes(LoadedBytes(plan)) << "; peak with " << limits.jobs
      << " jobs: " << Bytes(PeakBytes(plan, limits.jobs, limits.max_bytes)) << "\n";
}

v1::IndexInfo InfoOf(const PlannedBuild& p, const BuildOutcome& o, size_t done, double seconds) {
  v1::IndexInfo info;
  info.set_tenant_id(p.key.tenant_id.ToString());
  info.set_model(p.key.model);
  info.set_dimension(p.key.dim);
  v1::RebuildJob& job = *info.mutable_rebuild();
  job.set_state(!o.finished ? v1::REBUILD_STATE_RUNNING
                : o.status.ok() ? v1::REBUILD_STATE_DONE
                                : v1::REBUILD_STATE_FAILED);
  job.set_target_kind(ProtoKind(p.kind));
  job.set_rows_done(o.finished ? p.rows : done);
  job.set_rows_total(p.rows);
  job.set_seconds(o.finished ? o.seconds : seconds);
  job.set_error(o.status.message());
  return info;
}

}  // namespace

int RunRebuild(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
               bool err_is_terminal) {
  Flags flags;
  if (const char* url = std::getenv("DATABASE_URL")) flags.database_url = url;
  CLI::App app{"vecmirror-rebuild: builds the service's indexes offline, from PostgreSQL (the "
               "service stopped) or from a snapshot, and writes a snapshot the service resumes "
               "from."};
  app.option_defaults()->always_capture_default();
  app.add_option("--database-url", flags.database_url,
                 "PostgreSQL URI or key=value conninfo (default: $DATABASE_URL, else PG*)");
  app.add_option("--slot", flags.slot, "the service's replication slot (recreated)");
  app.add_option("--publication", flags.publication, "the service's publication");
  app.add_option("--schema", flags.schema, "schema of both tables");
  app.add_option("--entity-table", flags.entity_table, "entity table");
  app.add_option("--embedding-table", flags.embedding_table, "embedding table");
  app.add_option("--models", flags.models, "known models as name:dim,... (as the service's)")
      ->delimiter(',');
  app.add_option("--snapshot-dir", flags.snapshot_dir,
                 "where the snapshot is written: the service's --snapshot-dir (default with "
                 "--from-snapshot: its DIR)");
  app.add_option("--snapshot-keep", flags.snapshot_keep, "complete snapshots kept")
      ->check(CLI::Range(size_t{1}, size_t{100}));
  app.add_option("--from-snapshot", flags.from_snapshot,
                 "rebuild the newest snapshot in DIR instead of reading PostgreSQL")
      ->check(CLI::ExistingDirectory);
  app.add_option("--tenant", flags.tenants, "build only this tenant's indexes (repeatable)");
  app.add_option("--model", flags.only_models, "build only this model's indexes (repeatable)");
  app.add_option("--kind", flags.kind, "build every chosen index as flat, hnsw or ivf (pinned)");
  app.add_option("--ann-min-rows", flags.index.ann_min_rows, "size policy: rows from which ANN");
  app.add_option("--ann-kind", flags.ann_kind, "size policy: ANN kind, hnsw or ivf");
  app.add_option("--hnsw-m", flags.index.hnsw_m, "HNSW links per node")->check(CLI::Range(2, 256));
  app.add_option("--hnsw-ef-construction", flags.index.hnsw_ef_construction, "HNSW build effort")
      ->check(CLI::PositiveNumber);
  app.add_option("--ivf-nlist", flags.index.ivf_nlist, "IVF lists (0 = about 4 sqrt(rows))");
  app.add_option("--jobs", flags.jobs, "indexes built at once (default: the cores)")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-memory-bytes", flags.max_memory_bytes,
                 "no build starts that would take the loaded indexes plus the builds running "
                 "past this (0 = no bound)");
  app.add_flag("--dry-run", flags.dry_run,
               "print what would be built and the memory it needs; build and write nothing");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::ostringstream o, e2;
    const int code = app.exit(e, o, e2);
    out << o.str();
    err << e2.str();
    return code;
  }
  auto fail = [&](const Status& s, int code) {
    err << "vecmirror-rebuild: " << s.message() << "\n";
    return code;
  };
  // Log lines (the load's progress) go to `err` as plain lines.
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(err);
  auto logger = std::make_shared<spdlog::logger>("rebuild", sink);
  logger->set_pattern("%v");
  spdlog::set_default_logger(logger);

  IndexOptions options = flags.index;
  if (Status s = ParseIndexKind(flags.ann_kind, &options.ann_kind); !s.ok()) return fail(s, 2);
  std::optional<IndexKind> pin;
  if (!flags.kind.empty()) {
    IndexKind kind;
    if (Status s = ParseIndexKind(flags.kind, &kind); !s.ok()) return fail(s, 2);
    pin = kind;
  }
  BuildFilter filter;
  for (const std::string& t : flags.tenants) {
    auto uuid = Uuid::Parse(t);
    if (!uuid) return fail(Status::InvalidArgument("--tenant \"" + t + "\" is not a UUID"), 2);
    filter.tenants.push_back(*uuid);
  }
  filter.models = flags.only_models;
  std::vector<ModelDimension> models = DefaultModels();
  std::string models_text;
  for (const std::string& m : flags.models) models_text += (models_text.empty() ? "" : ",") + m;
  if (Status s = ParseModelList(models_text, &models); !s.ok()) return fail(s, 2);
  if (flags.snapshot_dir.empty()) flags.snapshot_dir = flags.from_snapshot;
  if (flags.snapshot_dir.empty() && !flags.dry_run) {
    return fail(Status::InvalidArgument("--snapshot-dir is required (the service's)"), 2);
  }

  auto counters = std::make_shared<BuildCounters>();
  options.on_rebuild_progress = [counters](const IndexKey& key, const RebuildProgress& p) {
    counters->Report(key, p);
  };
  Source source;
  const Status loaded = flags.from_snapshot.empty()
                            ? LoadFromDatabase(flags, options, models, &source)
                            : LoadFromSnapshot(flags, options, &source);
  if (!loaded.ok()) return fail(loaded, 1);
  err << "loaded " << source.indexes.size() << " indexes from " << source.description << "\n";

  std::vector<const EntityIndex*> const_indexes(source.indexes.begin(), source.indexes.end());
  const std::vector<PlannedBuild> plan = PlanBuilds(const_indexes, filter, pin, options);
  const BuildLimits limits{flags.jobs, flags.max_memory_bytes};
  if (flags.dry_run) {
    PrintPlan(plan, limits, out);
    out << "dry run: nothing built, nothing written\n";
    return CheckFits(plan, limits).ok() ? 0 : fail(CheckFits(plan, limits), 1);
  }
  if (Status s = CheckFits(plan, limits); !s.ok()) return fail(s, 1);

  // Progress: one bar over every build's rows on a terminal, plain lines otherwise.
  uint64_t total_rows = 0;
  size_t total_builds = 0;
  for (const PlannedBuild& p : plan) {
    if (p.selected) total_rows += p.rows, ++total_builds;
  }
  std::vector<BuildOutcome> outcomes;
  std::atomic<size_t> builds_done{0};
  const auto started = Clock::now();
  std::mutex render_mu;
  auto overall = [&] {
    uint64_t done = 0;
    for (size_t i = 0; i < plan.size(); ++i) {
      if (plan[i].selected) done += std::min<uint64_t>(counters->Done(plan[i].key), plan[i].rows);
    }
    v1::IndexInfo info;
    info.set_model(std::to_string(builds_done.load()) + "/" + std::to_string(total_builds) +
                   " indexes");
    info.mutable_rebuild()->set_state(v1::REBUILD_STATE_RUNNING);
    info.mutable_rebuild()->set_rows_done(done);
    info.mutable_rebuild()->set_rows_total(total_rows);
    info.mutable_rebuild()->set_seconds(std::chrono::duration<double>(Clock::now() - started).count());
    return cli::RebuildProgressBar(info, 28);
  };
  std::atomic<bool> building{true};
  std::thread renderer([&] {
    auto last_line = Clock::now();
    while (building) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::lock_guard lock(render_mu);
      if (err_is_terminal) {
        err << "\r" << overall() << "\x1b[K" << std::flush;
      } else if (Clock::now() - last_line > std::chrono::seconds(10)) {
        err << overall() << "\n" << std::flush;
        last_line = Clock::now();
      }
    }
  });
  const Status built = RunBuilds(
      plan, source.indexes, pin, limits, &outcomes, [&](size_t i, const BuildOutcome& o) {
        if (o.finished) ++builds_done;
        if (err_is_terminal && !o.finished) return;
        const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
        std::lock_guard lock(render_mu);
        if (err_is_terminal) err << "\r\x1b[K";
        err << cli::RebuildProgressLine(InfoOf(plan[i], o, counters->Done(plan[i].key), seconds))
            << "\n" << std::flush;
      });
  building = false;
  renderer.join();
  if (err_is_terminal) err << "\r" << overall() << "\x1b[K\n";
  if (!built.ok()) return fail(built, 1);

  SnapshotCut cut;
  cut.source = source.source;
  cut.lsn = source.lsn;
  cut.mirror_state = source.mirror_state;
  if (source.registry) {
    RegistryImage image = source.registry->Capture();
    cut.type_names = std::move(image.type_names);
    cut.indexes = std::move(image.indexes);
  } else {
    cut.type_names = source.type_names;
    for (EntityIndex* index : source.indexes) cut.indexes.push_back(index->Capture());
  }
  std::string path;
  SnapshotWriteOptions write_options;
  write_options.keep = flags.snapshot_keep;
  if (Status s = WriteSnapshot(flags.snapshot_dir, cut, write_options, &path); !s.ok()) {
    return fail(s, 1);
  }

  cli::Table table({{"index"}, {"rows", true}, {"kind"}, {"build s", true}, {"memory", true}});
  for (size_t i = 0; i < plan.size(); ++i) {
    const IndexStats stats = source.indexes[i]->Stats();
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.2f", outcomes[i].seconds);
    table.AddRow({plan[i].key.ToString(), std::to_string(stats.live), IndexKindName(stats.kind),
                  plan[i].selected ? seconds : "kept", std::to_string(stats.memory_bytes)});
  }
  table.Print(out);
  out << "wrote " << path << " (" << cut.indexes.size() << " indexes, slot " << cut.source.slot
      << ", publication " << cut.source.publication << ", LSN " << pg::FormatLsn(cut.lsn) << ")\n";
  return 0;
}

}  // namespace vecmirror::rebuild
