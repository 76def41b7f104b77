// vecmirror-server: loads the searchable embeddings of a PostgreSQL database into FAISS
// indexes, follows every committed change through logical replication, and serves searches over
// gRPC until SIGINT or SIGTERM. SIGHUP reloads the tokens file.
#include <grpc/support/log.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "index/freed_memory.h"
#include "index/model_catalog.h"
#include "index/registry.h"
#include "src/auth/server_security.h"
#include "src/config.h"
#include "src/grpc_server.h"
#include "src/logging/log_fields.h"
#include "src/logging/log_format.h"
#include "src/metrics/build_info.h"
#include "src/metrics/service_metrics.h"
#include "src/mirror.h"
#include "src/replicator.h"
#include "src/search_service.h"

namespace vecmirror {
namespace {

// Blocks SIGINT, SIGTERM and SIGHUP in every thread started after this, so the main thread can
// take them synchronously with sigtimedwait.
sigset_t BlockHandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// gRPC's own log lines (gpr_log) go through spdlog, so they take the chosen format: a JSON
// log stays one JSON object per line.
void ForwardGrpcLog(gpr_log_func_args* args) {
  spdlog::level::level_enum level = spdlog::level::debug;
  if (args->severity == GPR_LOG_SEVERITY_ERROR) level = spdlog::level::err;
  if (args->severity == GPR_LOG_SEVERITY_INFO) level = spdlog::level::info;
  LogWithFields({{"source", "grpc"}, {"file", args->file ? args->file : ""}, {"line", args->line}},
                level, "{}", args->message ? args->message : "");
}

// One line when a rebuild starts, after each tenth of a long build, and when it ends.
void LogRebuildProgress(const IndexKey& key, const RebuildProgress& p) {
  ScopedLogFields fields({{"tenant", key.tenant_id.ToString()},
                          {"model", key.model},
                          {"dimension", key.dim},
                          {"kind", IndexKindName(p.kind)},
                          {"rows_done", p.rows_done},
                          {"rows_total", p.rows_total},
                          {"duration_seconds", p.seconds}});
  if (p.finished && p.cancelled) {
    spdlog::info("rebuild {}: cancelled after {:.1f} s", key.ToString(), p.seconds);
  } else if (p.finished) {
    spdlog::info("rebuild {}: {} of {} rows as {} done in {:.1f} s", key.ToString(), p.rows_done,
                 p.rows_total, IndexKindName(p.kind), p.seconds);
  } else if (p.rows_done == 0 && p.extends_graph) {
    spdlog::info("rebuild {}: adding {} tail rows to the {} graph of {} rows", key.ToString(),
                 p.rows_total, IndexKindName(p.kind), p.graph_rows);
  } else if (p.rows_done == 0) {
    spdlog::info("rebuild {}: building {} from {} live rows", key.ToString(), IndexKindName(p.kind),
                 p.rows_total);
  } else {
    spdlog::info("rebuild {}: {} of {} rows ({:.0f}%), {:.1f} s", key.ToString(), p.rows_done,
                 p.rows_total, 100.0 * p.rows_done / p.rows_total, p.seconds);
  }
}

int Run(Config config) {
  const sigset_t signals = BlockHandledSignals();
  spdlog::info("{}", metrics::BuildInfoText(metrics::CurrentBuildInfo()));
  auth::ServerSecurity security;
  if (Status s = auth::LoadServerSecurity(config.security, config.server.listen, &security);
      !s.ok()) {
    spdlog::critical("{}", s.message());
    return 2;
  }
  metrics::ServiceMetrics metrics(config.metrics);
  MirrorStatusBoard board;
  Snapshotter snapshotter(config.snapshots, board);
  config.index.on_rebuild_progress = [&metrics, &snapshotter](const IndexKey& key,
                                                              const RebuildProgress& p) {
    LogRebuildProgress(key, p);
    metrics.RecordRebuild(p);
    if (p.finished && !p.cancelled) snapshotter.NoteIndexRebuilt();
  };
  Registry registry(config.index);
  ModelCatalog models(config.models, config.model_learning);
  Mirror mirror(registry, models, board);
  Replicator replicator(config.replicator, mirror, registry, board, &snapshotter);
  metrics.Watch(registry, board);

  // Operator errors (wal_level, privileges, missing tables) stop here with one clear message.
  // An unreachable server does not: the mirror keeps retrying while the API reports UNAVAILABLE.
  if (Status s = replicator.Preflight(); !s.ok()) {
    if (s.code() == Status::Code::kFailedPrecondition) {
      spdlog::critical("{}", s.message());
      return 2;
    }
    spdlog::warn("PostgreSQL not ready yet ({}); will keep trying", s.message());
  }

  SearchService service(registry, models, board, config.service, security.authorizer);
  GrpcServer server(config.server);
  const auto with_metrics = [&metrics](grpc::ServerBuilder& b) { metrics.InstallInterceptors(b); };
  if (Status s = server.Start({&service}, with_metrics, security.credentials); !s.ok()) {
    spdlog::critical("cannot start the gRPC server: {}", s.message());
    return 1;
  }
  spdlog::info("serving vecmirror.v1.VectorSearch on {} (port {})", config.server.listen,
               server.bound_port());
  if (Status s = metrics.StartHttp(); !s.ok()) {
    spdlog::critical("cannot start the metrics endpoint: {}", s.message());
    return 1;
  }
  if (metrics.http_port() != 0) {
    spdlog::info("serving Prometheus metrics at http://{}/metrics (port {})",
                 config.metrics.listen, metrics.http_port());
  }
  // Health: SERVING once the first load is complete, and while searches are accepted.
  server.WatchReadiness([&] { return board.loaded() && service.AcceptingWork(); });
  registry.StartMaintenance();
  replicator.Start();

  bool loaded_before = false;
  timespec tick{0, 200 * 1000 * 1000};
  for (;;) {
    const int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGHUP) {
      if (Status s = auth::ReloadTokens(config.security, &security.authorizer); !s.ok()) {
        spdlog::error("SIGHUP: {}; the tokens in force stay", s.message());
      }
      continue;
    }
    if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
      break;
    }
    const bool loaded = board.loaded();
    if (loaded && !loaded_before) spdlog::info("first load complete: health SERVING");
    loaded_before = loaded;
  }
  server.Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  replicator.Stop();
  registry.StopMaintenance();
  // With snapshots on, the next start resumes from here instead of reloading the tables.
  replicator.WriteFinalSnapshot();
  metrics.StopHttp();
  return 0;
}

}  // namespace
}  // namespace vecmirror

int main(int argc, char** argv) {
  vecmirror::ReturnLargeFreesPromptly();
  vecmirror::Config config;
  std::string message;
  int exit_code = 0;
  if (!vecmirror::ParseConfig(argc, argv, &config, &message, &exit_code)) {
    std::fputs(message.c_str(), exit_code == 0 ? stdout : stderr);
    return exit_code;
  }
  vecmirror::LogFormat log_format = vecmirror::LogFormat::kText;
  if (vecmirror::Status s = vecmirror::ParseLogFormat(config.log_format, &log_format); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 2;
  }
  vecmirror::ConfigureLogging(log_format, config.log_level);
  gpr_set_log_function(vecmirror::ForwardGrpcLog);
  return vecmirror::Run(std::move(config));
}
