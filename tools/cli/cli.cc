#include "tools/cli/cli.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "base/lsn.h"
#include "tools/cli/cli_json.h"
#include "tools/cli/cli_text.h"
#include "tools/cli/health_check.h"
#include "tools/cli/rebuild_progress.h"
#include "tools/cli/table.h"
#include "vecmirror/v1/vecmirror.grpc.pb.h"

namespace vecmirror::cli {
namespace {

constexpr int kExitRpcError = 1;
constexpr int kExitLocalError = 2;
// Above the server's default limit (16 MiB), so the server's --max-message-bytes decides.
constexpr int kMaxMessageBytes = 64 << 20;

struct GlobalArgs {
  std::string server = "127.0.0.1:50051";
  int timeout_ms = 10000;
  bool json = false;  // one JSON object per answer (cli_json.h) instead of tables
  std::string tls_ca;      // PEM CA to verify the server with; set = TLS
  std::string tls_cert;    // client certificate, for a server that requires one (mTLS)
  std::string tls_key;     // its key
  std::string token_file;  // file whose first line is the bearer token
};

// How the client proves who it is: the channel's credentials and the bearer token. The token
// comes from --token-file or $VECMIRROR_TOKEN, never from a flag: every local user can read a
// process's command line.
struct Identity {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string token;  // empty: no authorization metadata
};

struct SearchArgs {
  std::string tenant;
  std::string model;
  std::string vector_file;
  std::string entity_id;
  std::vector<std::string> types;
  uint32_t limit = 0;
  double min_similarity = 0;
  std::string min_lsn;
  uint32_t ef_search = 0;
  uint32_t nprobe = 0;
  bool exact = false;
};

struct FilterArgs {  // indexes and rebuild
  std::string tenant;
  std::string model;
  std::string kind;
  bool no_wait = false;  // rebuild: return once the rebuilds are queued
  bool cancel = false;   // rebuild: cancel the queued or running rebuilds instead
};

// How often `rebuild` asks ListIndexes how its rebuilds are going.
constexpr std::chrono::milliseconds kRebuildPollInterval(250);
constexpr int kProgressBarWidth = 30;

// The command's context: where it writes, and how it reaches the server.
struct Session {
  const GlobalArgs& args;
  const Identity& identity;
  std::ostream& out;
  std::ostream& err;

  std::shared_ptr<grpc::Channel> NewChannel() const {
    grpc::ChannelArguments channel_args;
    channel_args.SetMaxReceiveMessageSize(kMaxMessageBytes);
    channel_args.SetMaxSendMessageSize(kMaxMessageBytes);
    return grpc::CreateCustomChannel(args.server, identity.credentials, channel_args);
  }
  std::chrono::milliseconds timeout() const { return std::chrono::milliseconds(args.timeout_ms); }
  // The call's deadline and, when there is a token, "authorization: Bearer <token>".
  void Prepare(grpc::ClientContext* context) const {
    context->set_deadline(std::chrono::system_clock::now() + timeout());
    if (!identity.token.empty()) context->AddMetadata("authorization", "Bearer " + identity.token);
  }
  int Fail(const grpc::Status& status) const {
    if (args.json) {
      err << JsonLine(ErrorJson(StatusCodeName(status.error_code()), status.error_message()));
    } else {
      err << StatusCodeName(status.error_code()) << ": " << status.error_message() << '\n';
    }
    return kExitRpcError;
  }
  int LocalError(const std::string& message) const {
    if (args.json) {
      err << JsonLine(ErrorJson("LOCAL_ERROR", message));
    } else {
      err << "error: " << message << '\n';
    }
    return kExitLocalError;
  }
};

v1::IndexKind KindFromName(const std::string& name) {
  if (name == "flat") return v1::INDEX_KIND_FLAT;
  if (name == "hnsw") return v1::INDEX_KIND_HNSW;
  if (name == "ivf") return v1::INDEX_KIND_IVF;
  return v1::INDEX_KIND_UNSPECIFIED;
}

std::string FormatDouble(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

bool ReadText(const std::string& path, std::string* text) {
  if (path == "-") {
    text->assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return true;
  }
  std::ifstream in(path);
  if (!in) return false;
  text->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

// Reads the files and the environment behind the TLS and token options; false (with *error
// set) when one can't be read.
bool LoadIdentity(const GlobalArgs& args, Identity* identity, std::string* error) {
  identity->credentials = grpc::InsecureChannelCredentials();
  if (!args.tls_ca.empty()) {
    grpc::SslCredentialsOptions options;
    if (!ReadText(args.tls_ca, &options.pem_root_certs)) {
      *error = "cannot read --tls-ca " + args.tls_ca;
      return false;
    }
    if (args.tls_cert.empty() != args.tls_key.empty()) {
      *error = "--tls-cert and --tls-key go together";
      return false;
    }
    if (!args.tls_cert.empty() && (!ReadText(args.tls_cert, &options.pem_cert_chain) ||
                                   !ReadText(args.tls_key, &options.pem_private_key))) {
      *error = "cannot read --tls-cert " + args.tls_cert + " or --tls-key " + args.tls_key;
      return false;
    }
    identity->credentials = grpc::SslCredentials(options);
  } else if (!args.tls_cert.empty() || !args.tls_key.empty()) {
    *error = "--tls-cert and --tls-key need --tls-ca";
    return false;
  }

  std::string token;
  if (!args.token_file.empty()) {
    if (!ReadText(args.token_file, &token)) {
      *error = "cannot read --token-file " + args.token_file;
      return false;
    }
  } else if (const char* env = std::getenv("VECMIRROR_TOKEN")) {
    token = env;
  }
  token = token.substr(0, token.find('\n'));
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  identity->token = token;
  return true;
}

void PrintIndexes(std::ostream& out, const google::protobuf::RepeatedPtrField<v1::IndexInfo>& list) {
  Table table({{"tenant_id"},
               {"model"},
               {"dim", true},
               {"kind"},
               {"storage"},
               {"live", true},
               {"dead", true},
               {"memory", true},
               {"bytes/vector", true},
               {"covered_lsn", true},
               {"rebuilding"},
               {"last_rebuild"}});
  for (const v1::IndexInfo& info : list) {
    std::string last = "-";
    if (info.has_rebuild()) {
      const v1::RebuildJob& job = info.rebuild();
      last = RebuildStateText(job.state());
      if (!RebuildEnded(job) && job.rows_total() > 0) {
        last += " " + std::to_string(job.rows_done() * 100 / job.rows_total()) + "%";
      }
    }
    table.AddRow({info.tenant_id(), info.model(), std::to_string(info.dimension()),
                  IndexKindText(info.kind()), info.vector_storage(), std::to_string(info.live_count()),
                  std::to_string(info.dead_count()), FormatBytes(info.memory_bytes()),
                  FormatBytes(static_cast<uint64_t>(std::llround(info.bytes_per_vector()))),
                  FormatLsn(info.covered_lsn()), info.rebuilding() ? "yes" : "no", last});
  }
  table.Print(out);
}

// Builds the request from the arguments; false (with the message printed) on a local error.
bool BuildSearchRequest(const Session& session, const SearchArgs& a, const CLI::App& command,
                        v1::SearchRequest* request) {
  request->set_tenant_id(a.tenant);
  request->set_model(a.model);
  if (!a.vector_file.empty()) {
    std::string text, error;
    std::vector<float> values;
    if (!ReadText(a.vector_file, &text)) {
      session.LocalError("cannot read --vector-file " + a.vector_file);
      return false;
    }
    if (!ParseVectorText(text, &values, &error)) {
      session.LocalError("--vector-file " + a.vector_file + ": " + error);
      return false;
    }
    request->mutable_vector()->mutable_values()->Add(values.begin(), values.end());
  } else {
    request->set_query_entity_id(a.entity_id);
  }
  for (const std::string& type : a.types) request->add_entity_types(type);
  if (a.limit != 0) request->set_limit(a.limit);
  if (command.count("--min-similarity") > 0) request->set_min_similarity(a.min_similarity);
  if (!a.min_lsn.empty()) {
    uint64_t lsn = 0;
    if (!ParseLsnArgument(a.min_lsn, &lsn)) {
      session.LocalError("--min-lsn \"" + a.min_lsn + "\": expected X/Y (hex) or a decimal LSN");
      return false;
    }
    request->set_min_lsn(lsn);
  }
  request->mutable_effort()->set_ef_search(a.ef_search);
  request->mutable_effort()->set_nprobe(a.nprobe);
  request->mutable_effort()->set_exact(a.exact);
  return true;
}

int RunSearch(const Session& session, const SearchArgs& a, const CLI::App& command) {
  if (a.vector_file.empty() == a.entity_id.empty()) {
    return session.LocalError("give exactly one of --vector-file and --entity-id");
  }
  v1::SearchRequest request;
  if (!BuildSearchRequest(session, a, command, &request)) return kExitLocalError;

  auto stub = v1::VectorSearch::NewStub(session.NewChannel());
  grpc::ClientContext context;
  session.Prepare(&context);
  v1::SearchResponse response;
  const grpc::Status status = stub->SearchSimilarEntities(&context, request, &response);
  if (!status.ok()) return session.Fail(status);
  if (session.args.json) {
    session.out << JsonLine(SearchJson(response));
    return 0;
  }

  Table table({{"rank", true}, {"entity_id"}, {"entity_type"}, {"similarity", true}});
  int rank = 0;
  for (const v1::SearchResult& r : response.results()) {
    table.AddRow({std::to_string(++rank), r.entity_id(), r.entity_type(),
                  FormatDouble(r.similarity(), 6)});
  }
  table.Print(session.out);
  session.out << response.results_size() << " results  applied_lsn "
              << FormatLsn(response.applied_lsn()) << "  exact "
              << (response.exact() ? "yes" : "no") << "  index "
              << IndexKindText(response.index_kind()) << '\n';
  return 0;
}

int RunIndexes(const Session& session, const FilterArgs& a) {
  auto stub = v1::VectorSearch::NewStub(session.NewChannel());
  grpc::ClientContext context;
  session.Prepare(&context);
  v1::ListIndexesRequest request;
  request.set_tenant_id(a.tenant);
  request.set_model(a.model);
  v1::ListIndexesResponse response;
  const grpc::Status status = stub->ListIndexes(&context, request, &response);
  if (!status.ok()) return session.Fail(status);
  if (session.args.json) {
    session.out << JsonLine(IndexesJson(response));
    return 0;
  }
  PrintIndexes(session.out, response.indexes());
  session.out << response.indexes_size() << " indexes  applied_lsn "
              << FormatLsn(response.applied_lsn()) << '\n';
  return 0;
}

int RunStatus(const Session& session) {
  auto stub = v1::VectorSearch::NewStub(session.NewChannel());
  grpc::ClientContext context;
  session.Prepare(&context);
  v1::MirrorStatus s;
  const grpc::Status status = stub->GetMirrorStatus(&context, v1::GetMirrorStatusRequest(), &s);
  if (!status.ok()) return session.Fail(status);
  if (session.args.json) {
    session.out << JsonLine(MirrorStatusJson(s));
    return 0;
  }

  const v1::BadRowCounters& bad = s.bad_rows();
  Table table({{"field"}, {"value"}});
  table.AddRow({"state", s.state()});
  table.AddRow({"loaded", s.loaded() ? "yes" : "no"});
  table.AddRow({"slot_name", s.slot_name()});
  table.AddRow({"publication", s.publication()});
  table.AddRow({"applied_lsn", FormatLsn(s.applied_lsn())});
  table.AddRow({"confirmed_lsn", FormatLsn(s.confirmed_lsn())});
  table.AddRow({"server_lsn", FormatLsn(s.server_lsn())});
  table.AddRow({"lag_bytes", std::to_string(s.lag_bytes())});
  table.AddRow({"lag_seconds", FormatDouble(s.lag_seconds(), 3)});
  table.AddRow({"seconds_since_last_commit", FormatDouble(s.seconds_since_last_commit(), 3)});
  table.AddRow({"reconnects", std::to_string(s.reconnects())});
  table.AddRow({"initial_loads", std::to_string(s.initial_loads())});
  table.AddRow({"transactions_applied", std::to_string(s.transactions_applied())});
  table.AddRow({"changes_applied", std::to_string(s.changes_applied())});
  table.AddRow({"bad_rows.null_vector", std::to_string(bad.null_vector())});
  table.AddRow({"bad_rows.non_finite", std::to_string(bad.non_finite())});
  table.AddRow({"bad_rows.zero_vector", std::to_string(bad.zero_vector())});
  table.AddRow({"bad_rows.dimension_mismatch", std::to_string(bad.dimension_mismatch())});
  table.AddRow({"bad_rows.malformed", std::to_string(bad.malformed())});
  table.AddRow({"bad_rows.unknown_model", std::to_string(bad.unknown_model())});
  table.AddRow({"bad_rows.entity_type_limit", std::to_string(bad.entity_type_limit())});
  table.AddRow({"retained_wal_bytes", std::to_string(s.retained_wal_bytes())});
  const v1::SnapshotStatus& snap = s.snapshots();
  table.AddRow({"snapshots.enabled", snap.enabled() ? "yes" : "no"});
  if (snap.enabled()) {
    table.AddRow({"snapshots.directory", snap.directory()});
    table.AddRow({"snapshots.started_from", snap.started_from()});
    table.AddRow({"snapshots.durable_lsn", FormatLsn(snap.durable_lsn())});
    table.AddRow({"snapshots.written", std::to_string(snap.written())});
    table.AddRow({"snapshots.failed", std::to_string(snap.failed())});
    table.AddRow({"snapshots.last_write_seconds", FormatDouble(snap.last_write_seconds(), 3)});
    table.AddRow({"snapshots.last_bytes", std::to_string(snap.last_bytes())});
    table.AddRow({"snapshots.seconds_since_last", FormatDouble(snap.seconds_since_last(), 1)});
    table.AddRow({"snapshots.writing", snap.writing() ? "yes" : "no"});
  }
  table.AddRow({"last_error", s.last_error()});
  table.Print(session.out);
  return 0;
}

int RunCancelRebuild(const Session& session, const FilterArgs& a) {
  auto stub = v1::VectorSearch::NewStub(session.NewChannel());
  grpc::ClientContext context;
  session.Prepare(&context);
  v1::CancelRebuildRequest request;
  request.set_tenant_id(a.tenant);
  request.set_model(a.model);
  v1::CancelRebuildResponse response;
  const grpc::Status status = stub->CancelRebuild(&context, request, &response);
  if (!status.ok()) return session.Fail(status);
  if (session.args.json) {
    Json j;
    j["cancelled"] = Json::array();
    for (const v1::IndexInfo& info : response.cancelled()) {
      j["cancelled"].push_back({{"tenant_id", info.tenant_id()},
                                {"model", info.model()},
                                {"state", RebuildStateText(info.rebuild().state())}});
    }
    session.out << JsonLine(j);
    return 0;
  }
  for (const v1::IndexInfo& info : response.cancelled()) {
    session.out << RebuildProgressLine(info) << '\n';
  }
  session.out << response.cancelled_size() << " rebuilds cancelled\n";
  return 0;
}

// Polls ListIndexes until every job in `started` has ended, showing progress (a bar on a
// terminal, a line per change otherwise, nothing with --json), and leaves the indexes as they
// ended in `ended`. Returns 0 when every rebuild is done.
int WaitForRebuilds(const Session& session, v1::VectorSearch::Stub& stub,
                    const v1::RebuildIndexResponse& started, v1::RebuildIndexResponse* ended) {
  const bool terminal = &session.out == &std::cout && isatty(STDOUT_FILENO) == 1;
  std::map<std::string, std::string> shown;  // model -> its last line printed
  while (true) {
    grpc::ClientContext context;
    session.Prepare(&context);
    v1::ListIndexesRequest request;
    request.set_tenant_id(started.rebuilt(0).tenant_id());
    v1::ListIndexesResponse listed;
    const grpc::Status status = stub.ListIndexes(&context, request, &listed);
    if (!status.ok()) return session.Fail(status);
    std::map<std::string, const v1::IndexInfo*> by_model;
    for (const v1::IndexInfo& info : listed.indexes()) by_model[info.model()] = &info;

    ended->Clear();
    bool all_ended = true;
    bool failed = false;
    std::string bar;
    for (const v1::IndexInfo& asked : started.rebuilt()) {
      auto it = by_model.find(asked.model());
      v1::IndexInfo* now = ended->add_rebuilt();
      *now = it == by_model.end() ? asked : *it->second;
      // A newer job of the same index means this one ended (it is not kept once replaced).
      if (now->rebuild().job_id() != asked.rebuild().job_id()) {
        now->mutable_rebuild()->set_state(v1::REBUILD_STATE_DONE);
      }
      const bool done = RebuildEnded(now->rebuild());
      all_ended &= done;
      failed |= done && now->rebuild().state() != v1::REBUILD_STATE_DONE;
      if (session.args.json) continue;
      const std::string line = RebuildProgressLine(*now);
      if (terminal && !done) {
        if (now->rebuild().state() != v1::REBUILD_STATE_QUEUED) bar = RebuildProgressBar(*now, kProgressBarWidth);
        continue;
      }
      if (shown[asked.model()] == line) continue;
      if (terminal) session.out << "\r\x1b[K";
      session.out << line << '\n';
      shown[asked.model()] = line;
    }
    if (terminal && !bar.empty()) session.out << "\r\x1b[K" << bar << std::flush;
    if (all_ended) {
      if (terminal) session.out << "\r\x1b[K" << std::flush;
      return failed ? kExitRpcError : 0;
    }
    std::this_thread::sleep_for(kRebuildPollInterval);
  }
}

int RunRebuild(const Session& session, const FilterArgs& a) {
  if (a.cancel) return RunCancelRebuild(session, a);
  auto stub = v1::VectorSearch::NewStub(session.NewChannel());
  grpc::ClientContext context;
  session.Prepare(&context);
  v1::RebuildIndexRequest request;
  request.set_tenant_id(a.tenant);
  request.set_model(a.model);
  request.set_kind(KindFromName(a.kind));
  v1::RebuildIndexResponse response;
  const grpc::Status status = stub->RebuildIndex(&context, request, &response);
  if (!status.ok()) return session.Fail(status);
  int code = 0;
  const char* verb = "rebuilds started";
  v1::RebuildIndexResponse shown = response;
  if (!a.no_wait && response.rebuilt_size() > 0) {
    code = WaitForRebuilds(session, *stub, response, &shown);
    verb = "indexes rebuilt";
  }
  if (session.args.json) {
    session.out << JsonLine(RebuildJson(shown));
    return code;
  }
  PrintIndexes(session.out, shown.rebuilt());
  session.out << shown.rebuilt_size() << " " << verb;
  if (response.joined() > 0) session.out << " (" << response.joined() << " joined a running one)";
  session.out << '\n';
  return code;
}

int RunHealth(const Session& session, const std::string& service) {
  ServingStatus serving = ServingStatus::kUnknown;
  const grpc::Status status = CheckHealth(session.NewChannel(), service, session.timeout(), &serving);
  if (!status.ok()) return session.Fail(status);
  if (session.args.json) {
    session.out << JsonLine(HealthJson(service, ServingStatusName(serving)));
  } else {
    session.out << ServingStatusName(serving) << '\n';
  }
  return serving == ServingStatus::kServing ? 0 : kExitRpcError;
}

}  // namespace

const char* StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    default: return "UNKNOWN";
  }
}

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"vecmirror-cli: search a vecmirror server and inspect its indexes and mirror"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand too

  GlobalArgs global;
  app.add_option("--server", global.server, "HOST:PORT of the server")->capture_default_str();
  app.add_option("--timeout-ms", global.timeout_ms, "Deadline of each call, in milliseconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--json", global.json,
               "Print each answer as one line of JSON (errors too, on stderr) instead of tables");
  app.add_option("--tls-ca", global.tls_ca,
                 "PEM CA that signed the server's certificate (enables TLS)");
  app.add_option("--tls-cert", global.tls_cert,
                 "PEM client certificate, for a server that requires one");
  app.add_option("--tls-key", global.tls_key, "PEM key of --tls-cert");
  app.add_option("--token-file", global.token_file,
                 "File whose first line is the bearer token (default: $VECMIRROR_TOKEN)");

  SearchArgs search_args;
  CLI::App* search = app.add_subcommand("search", "Similarity search (SearchSimilarEntities)");
  search->add_option("--tenant", search_args.tenant, "Tenant UUID")->required();
  search->add_option("--model", search_args.model, "Embedding model, e.g. text-embedding-3-small")
      ->required();
  CLI::Option* vector_file = search->add_option(
      "--vector-file", search_args.vector_file,
      "File of floats separated by whitespace, commas or brackets (\"[1,2]\" or \"1 2\"); - = stdin");
  CLI::Option* entity_id = search->add_option("--entity-id", search_args.entity_id,
                                              "More like this entity (UUID); it is left out");
  vector_file->excludes(entity_id);
  search->add_option("--types", search_args.types, "Entity types, comma-separated (default all)")
      ->delimiter(',');
  search->add_option("--limit", search_args.limit, "Results wanted, 1 to 1000 (default: the server's, 10)");
  search->add_option("--min-similarity", search_args.min_similarity,
                     "Drop results below this cosine similarity");
  search->add_option("--min-lsn", search_args.min_lsn,
                     "Wait until this LSN (X/Y or decimal) is applied");
  search->add_option("--ef-search", search_args.ef_search, "HNSW effort; 0 = index default");
  search->add_option("--nprobe", search_args.nprobe, "IVF lists probed; 0 = index default");
  search->add_flag("--exact", search_args.exact, "Exact scan (recall 1.0)");

  FilterArgs index_args;
  CLI::App* indexes = app.add_subcommand("indexes", "List indexes (ListIndexes)");
  indexes->add_option("--tenant", index_args.tenant, "Only this tenant (UUID)");
  indexes->add_option("--model", index_args.model, "Only this model");

  app.add_subcommand("status", "Replication mirror status (GetMirrorStatus)");

  FilterArgs rebuild_args;
  CLI::App* rebuild = app.add_subcommand("rebuild", "Rebuild indexes online (RebuildIndex)");
  rebuild->add_option("--tenant", rebuild_args.tenant, "Tenant UUID")->required();
  rebuild->add_option("--model", rebuild_args.model, "Only this model (default: all)");
  rebuild->add_option("--kind", rebuild_args.kind, "flat, hnsw or ivf (default: size policy)")
      ->check(CLI::IsMember({"flat", "hnsw", "ivf"}));
  rebuild->add_flag("--no-wait", rebuild_args.no_wait,
                    "Return once the rebuilds are queued (default: wait, showing progress)");
  rebuild->add_flag("--cancel", rebuild_args.cancel,
                    "Cancel the queued or running rebuilds (CancelRebuild) instead")
      ->excludes(rebuild->get_option("--kind"));

  std::string health_service;
  CLI::App* health = app.add_subcommand("health", "Standard gRPC health check");
  health->add_option("--service", health_service, "Service name; empty = the whole server");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out, err);
  }

  Identity identity;
  std::string error;
  if (!LoadIdentity(global, &identity, &error)) {
    err << "error: " << error << '\n';
    return kExitLocalError;
  }
  const Session session{global, identity, out, err};
  if (search->parsed()) return RunSearch(session, search_args, *search);
  if (indexes->parsed()) return RunIndexes(session, index_args);
  if (rebuild->parsed()) return RunRebuild(session, rebuild_args);
  if (health->parsed()) return RunHealth(session, health_service);
  return RunStatus(session);
}

}  // namespace vecmirror::cli
