#include "src/replicator.h"

#include <spdlog/spdlog.h>

#include <pqxx/pqxx>

#include <functional>

#include "src/logging/log_fields.h"
#include "src/pg/copy_binary.h"
#include "src/pg/wire_format.h"

namespace vecmirror {
namespace {

using Clock = std::chrono::steady_clock;

// Logs "initial load: <table> N rows, M MB, R rows/s" at most every two seconds, and once at the end.
class LoadProgress {
 public:
  explicit LoadProgress(std::string table) : table_(std::move(table)), start_(Clock::now()), last_(start_) {}

  void Add(size_t bytes) {
    ++rows_;
    bytes_ += bytes;
    if ((rows_ & 1023) != 0) return;
    const auto now = Clock::now();
    if (now - last_ < std::chrono::seconds(2)) return;
    last_ = now;
    Log("");
  }
  void Done() { Log(" (done)"); }
  size_t rows() const { return rows_; }
  size_t bytes() const { return bytes_; }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  void Log(const char* suffix) const {
    const double s = std::max(seconds(), 1e-6);
    spdlog::info("initial load: {} {} rows, {:.1f} MB, {:.0f} rows/s, {:.1f} MB/s{}", table_, rows_,
                 bytes_ / 1e6, rows_ / s, bytes_ / 1e6 / s, suffix);
  }
  std::string table_;
  Clock::time_point start_, last_;
  size_t rows_ = 0, bytes_ = 0;
};

size_t TupleBytes(const pg::Tuple& tuple) {
  size_t n = 0;
  for (const auto& v : tuple) n += v.bytes.size();
  return n;
}

std::string SelectList(const std::vector<std::string>& columns, pg::PgConnection& conn) {
  std::string out;
  for (const auto& c : columns) out += (out.empty() ? "" : ", ") + conn.EscapeIdentifier(c);
  return out;
}

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Streams `SELECT columns FROM table where` as binary COPY into on_tuple, with progress lines.
Status CopyTable(pg::PgConnection& conn, const pg::TableName& table,
                 const std::vector<std::string>& columns, const std::string& where,
                 const std::function<void(const pg::Tuple&)>& on_tuple) {
  const std::string sql = "COPY (SELECT " + SelectList(columns, conn) + " FROM " +
                          table.Qualified() + where + ") TO STDOUT (FORMAT binary)";
  LoadProgress progress(table.name);
  pg::CopyBinaryParser parser([&](const pg::Tuple& tuple) {
    on_tuple(tuple);
    progress.Add(TupleBytes(tuple));
    return Status::Ok();
  });
  if (auto s = conn.CopyOut(sql, [&](std::string_view chunk) { return parser.Feed(chunk); }); !s.ok()) {
    return s;
  }
  if (auto s = parser.Finish(); !s.ok()) return s;
  progress.Done();
  return Status::Ok();
}

bool SlotIsGone(const std::string& sqlstate, const std::string& message) {
  return sqlstate == pg::kSqlstateUndefinedObject ||
         message.find("does not exist") != std::string::npos ||
         message.find("invalidated") != std::string::npos;
}

}  // namespace

Replicator::Replicator(ReplicatorOptions options, Mirror& mirror, Registry& registry,
                       MirrorStatusBoard& board)
    : options_(std::move(options)), mirror_(mirror), registry_(registry), board_(board) {
  board_.Update([&](MirrorState& s) {
    s.slot_name = options_.slot_name;
    s.publication = options_.publication;
  });
}

Replicator::~Replicator() { Stop(); }

class Replicator::CancelOnStop {
 public:
  CancelOnStop(Replicator& replicator, PGconn* conn) : replicator_(replicator), canceller_(conn) {
    std::lock_guard lock(replicator_.cancel_mu_);
    replicator_.cancellable_ = &canceller_;
  }
  ~CancelOnStop() {
    std::lock_guard lock(replicator_.cancel_mu_);
    replicator_.cancellable_ = nullptr;
  }
  CancelOnStop(const CancelOnStop&) = delete;
  CancelOnStop& operator=(const CancelOnStop&) = delete;

 private:
  Replicator& replicator_;
  const pg::QueryCanceller canceller_;
};

void Replicator::Start() {
  stopping_ = false;
  finished_ = false;
  thread_ = std::thread([this] {
    Run();
    finished_ = true;
  });
}

void Replicator::Stop() {
  {
    std::lock_guard lock(sleep_mu_);
    stopping_ = true;
  }
  sleep_cv_.notify_all();
  if (!thread_.joinable()) return;
  // A cancel that reaches PostgreSQL before its statement does is lost, so repeat it until the
  // thread has seen stopping_.
  while (!finished_) {
    {
      std::lock_guard lock(cancel_mu_);
      if (cancellable_ != nullptr) cancellable_->Cancel();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  thread_.join();
}

bool Replicator::SleepFor(std::chrono::milliseconds duration) {
  std::unique_lock lock(sleep_mu_);
  sleep_cv_.wait_for(lock, duration, [&] { return stopping_.load(); });
  return !stopping_;
}

void Replicator::SetState(const std::string& state, const std::string& error) {
  board_.Update([&](MirrorState& s) {
    s.state = state;
    if (!error.empty()) s.last_error = error;
  });
}

Status Replicator::Preflight() {
  try {
    control_ = std::make_unique<pqxx::connection>(options_.conninfo);
  } catch (const std::exception& e) {
    control_.reset();
    return Status::Unavailable(std::string("cannot connect to PostgreSQL: ") + e.what());
  }
  return PrepareCatalog();
}

Status Replicator::PrepareCatalog() {
  if (auto s = pg::CheckReplicationPrerequisites(*control_); !s.ok()) return s;
  if (auto s = pg::EnsurePublication(*control_, options_.publication,
                                     {options_.entity_table, options_.embedding_table});
      !s.ok()) {
    return s;
  }
  if (auto s = pg::ReplicaIdentityColumns(*control_, options_.entity_table, &entity_key_); !s.ok()) return s;
  if (auto s = pg::ReplicaIdentityColumns(*control_, options_.embedding_table, &embedding_key_); !s.ok()) return s;
  return pg::VectorColumnType(*control_, options_.embedding_table, options_.embedding_columns.vector,
                              &vector_type_);
}

void Replicator::Run() {
  auto backoff = options_.min_backoff;
  while (!stopping_) {
    const auto started = Clock::now();
    const Status s = LoadAndStream();
    if (stopping_) break;
    // A stream that ran a while was healthy: start the backoff over.
    if (Clock::now() - started > std::chrono::seconds(30)) backoff = options_.min_backoff;
    if (s.code() == Status::Code::kFailedPrecondition) {
      spdlog::error("mirror cannot run: {}", s.message());
      backoff = options_.max_backoff;
    } else {
      spdlog::warn("mirror interrupted, retrying in {} ms: {}", backoff.count(), s.ToString());
    }
    SetState(board_.loaded() ? "reconnecting" : "connecting", s.ToString());
    board_.Update([](MirrorState& st) { st.reconnects++; });
    control_.reset();  // reconnect it too: the server may have restarted
    if (!SleepFor(backoff)) break;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  SetState("stopped");
}

Status Replicator::LoadAndStream() {
  SetState(board_.loaded() ? "reconnecting" : "connecting");
  if (!control_) {
    if (auto s = Preflight(); !s.ok()) return s;
  }
  std::unique_ptr<pg::ReplicationStream> stream;
  if (auto s = pg::ReplicationStream::Connect(options_.conninfo, &stream); !s.ok()) return s;
  if (!need_load_) return Stream(std::move(stream), registry_.applied_lsn());

  if (auto s = pg::DropSlotIfExists(*control_, options_.slot_name); !s.ok()) return s;
  pg::CreatedSlot slot;
  {
    CancelOnStop cancel_on_stop(*this, stream->raw());
    if (stopping_) return Status::Unavailable("stopping");
    if (auto s = stream->CreateSlot(options_.slot_name, &slot); !s.ok()) return s;
  }
  SetState("loading");
  spdlog::info("slot {} created at {}; loading the snapshot", options_.slot_name,
               pg::FormatLsn(slot.consistent_point));
  if (auto s = Load(slot); !s.ok()) return s;
  need_load_ = false;
  return Stream(std::move(stream), slot.consistent_point);
}

Status Replicator::Load(const pg::CreatedSlot& slot) {
  std::unique_ptr<pg::PgConnection> conn;
  if (auto s = pg::PgConnection::Connect(options_.conninfo, false, &conn); !s.ok()) return s;
  CancelOnStop cancel_on_stop(*this, conn->raw());
  if (stopping_) return Status::Unavailable("stopping");
  if (auto s = conn->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !s.ok()) return s;
  if (auto s = conn->Exec("SET TRANSACTION SNAPSHOT " + conn->EscapeLiteral(slot.snapshot_name));
      !s.ok()) {
    return s;
  }
  mirror_.BeginLoad();

  const auto& ec = options_.entity_columns;
  const std::vector<std::string> entity_columns =
      Concat(entity_key_, {ec.id, ec.tenant_id, ec.entity_type, ec.valid_to, ec.deleted_at});
  RowDecoder entity_decoder;
  if (auto s = RowDecoder::ForEntity(entity_columns, entity_key_, ec, &entity_decoder); !s.ok()) {
    return Status::FailedPrecondition(s.message());
  }
  // Only current versions can be searchable; closed and deleted ones need not be kept.
  const std::string entity_where = " WHERE " + conn->EscapeIdentifier(ec.valid_to) + " IS NULL AND " +
                                   conn->EscapeIdentifier(ec.deleted_at) + " IS NULL";
  EntityRow entity;
  Status s = CopyTable(*conn, options_.entity_table, entity_columns, entity_where,
                       [&](const pg::Tuple& tuple) {
                         if (auto d = entity_decoder.DecodeEntity(tuple, &entity); !d.ok()) {
                           mirror_.CountUndecodableRow("entity", d);
                         } else {
                           mirror_.LoadEntity(entity);
                         }
                       });
  if (!s.ok()) return s;

  const auto& mc = options_.embedding_columns;
  const std::vector<std::string> embedding_columns =
      Concat(embedding_key_, {mc.entity_id, mc.model, mc.status, mc.vector});
  RowDecoder embedding_decoder;
  if (auto d = RowDecoder::ForEmbedding(embedding_columns, embedding_key_, mc, vector_type_,
                                        &embedding_decoder);
      !d.ok()) {
    return Status::FailedPrecondition(d.message());
  }
  // Every row, pending and failed too: a later status-only update sends the vector "unchanged".
  EmbeddingRow embedding;
  s = CopyTable(*conn, options_.embedding_table, embedding_columns, "", [&](const pg::Tuple& tuple) {
    if (auto d = embedding_decoder.DecodeEmbedding(tuple, &embedding); !d.ok()) {
      mirror_.CountUndecodableRow("embedding", d);
    } else {
      mirror_.LoadEmbedding(embedding);
    }
  });
  if (!s.ok()) return s;
  if (auto s = conn->Exec("COMMIT"); !s.ok()) return s;

  const auto apply_start = Clock::now();
  mirror_.FinishLoad(slot.consistent_point);
  LogWithFields({{"lsn", pg::FormatLsn(slot.consistent_point)}}, spdlog::level::info,
               "initial load applied at {}: {} current entities, {} embeddings, indexed in {:.2f} s",
               pg::FormatLsn(slot.consistent_point), mirror_.entity_count(),
               mirror_.embedding_count(),
               std::chrono::duration<double>(Clock::now() - apply_start).count());
  return Status::Ok();
}

Status Replicator::Stream(std::unique_ptr<pg::ReplicationStream> stream, pg::Lsn start) {
  relations_.clear();
  decoders_.clear();
  decoder_is_entity_.clear();
  in_transaction_ = false;
  received_ = start;
  if (auto s = stream->Start(options_.slot_name, start, options_.publication); !s.ok()) {
    if (SlotIsGone(stream->last_sqlstate(), s.message())) {
      spdlog::warn("replication slot {} is gone; a fresh initial load follows", options_.slot_name);
      need_load_ = true;
    }
    return s;
  }
  SetState("streaming");
  LogWithFields({{"lsn", pg::FormatLsn(start)}}, spdlog::level::info,
               "streaming from {} (slot {}, publication {})", pg::FormatLsn(start),
               options_.slot_name, options_.publication);
  if (auto s = SendStatus(*stream, false); !s.ok()) return s;

  std::string message;
  while (!stopping_) {
    const auto now = Clock::now();
    if (now - last_status_ >= options_.status_interval) {
      if (auto s = SendStatus(*stream, false); !s.ok()) return s;
    }
    if (now - last_lag_poll_ >= options_.lag_poll_interval) PollServerLsn();

    bool received = false;
    if (auto s = stream->Receive(std::chrono::milliseconds(100), &message, &received); !s.ok()) {
      if (SlotIsGone(stream->last_sqlstate(), s.message())) need_load_ = true;
      return s;
    }
    if (!received) continue;
    pg::ReplicationMessage parsed;
    if (auto s = pg::ParseReplicationMessage(message, &parsed); !s.ok()) return s;

    if (const auto* keepalive = std::get_if<pg::PrimaryKeepalive>(&parsed)) {
      received_ = std::max(received_, keepalive->wal_end);
      // Between transactions, everything the server decoded up to wal_end has arrived.
      if (!in_transaction_ && keepalive->wal_end > registry_.applied_lsn()) {
        registry_.AdvanceLsn(keepalive->wal_end);
        board_.Update([&](MirrorState& st) { st.applied_lsn = keepalive->wal_end; });
      }
      if (keepalive->reply_requested) {
        if (auto s = SendStatus(*stream, false); !s.ok()) return s;
      }
      continue;
    }
    const auto& data = std::get<pg::XLogData>(parsed);
    if (data.data_start != 0) received_ = std::max(received_, data.data_start);
    const bool was_in_transaction = in_transaction_;
    if (auto s = HandleMessage(data.payload); !s.ok()) return s;
    // Confirm a commit promptly, so the server can release WAL and shut down without waiting.
    if (was_in_transaction && !in_transaction_ && Clock::now() - last_status_ > std::chrono::milliseconds(200)) {
      if (auto s = SendStatus(*stream, false); !s.ok()) return s;
    }
  }
  return Status::Ok();
}

Status Replicator::SendStatus(pg::ReplicationStream& stream, bool reply_requested) {
  // Every start takes a fresh load, so an applied transaction is never needed again: confirm it.
  const pg::Lsn applied = registry_.applied_lsn();
  confirmed_ = applied;
  last_status_ = Clock::now();
  board_.Update([&](MirrorState& s) { s.confirmed_lsn = applied; });
  return stream.SendStatus(std::max(received_, applied), applied, applied, reply_requested);
}

void Replicator::PollServerLsn() {
  last_lag_poll_ = Clock::now();
  if (!control_) return;
  pg::Lsn server = 0;
  if (auto s = pg::CurrentWalLsn(*control_, &server); !s.ok()) {
    spdlog::debug("lag poll failed: {}", s.ToString());
    return;
  }
  const pg::Lsn applied = registry_.applied_lsn();
  board_.Update([&](MirrorState& st) {
    st.server_lsn = server;
    if (server <= applied) st.lag_seconds = 0;
  });
}

Status Replicator::HandleRelation(const pg::Relation& relation) {
  Relation r;
  r.schema = relation.nspname.empty() ? "pg_catalog" : std::string(relation.nspname);
  r.name = relation.relname;
  for (const auto& c : relation.columns) {
    r.columns.emplace_back(c.name);
    r.type_oids.push_back(c.type_oid);
  }
  decoders_.erase(relation.oid);
  decoder_is_entity_.erase(relation.oid);
  const bool is_entity = r.schema == options_.entity_table.schema && r.name == options_.entity_table.name;
  const bool is_embedding =
      r.schema == options_.embedding_table.schema && r.name == options_.embedding_table.name;
  if (is_entity || is_embedding) {
    RowDecoder decoder;
    Status s;
    if (is_entity) {
      s = RowDecoder::ForEntity(r.columns, entity_key_, options_.entity_columns, &decoder);
    } else {
      pg::VectorType type = pg::VectorType::kPgvector;
      for (size_t i = 0; i < r.columns.size(); ++i) {
        if (r.columns[i] == options_.embedding_columns.vector && r.type_oids[i] == pg::kFloat4ArrayOid) {
          type = pg::VectorType::kFloat4Array;
        }
      }
      s = RowDecoder::ForEmbedding(r.columns, embedding_key_, options_.embedding_columns, type,
                                   &decoder);
    }
    if (!s.ok()) return Status::FailedPrecondition(s.message());
    decoders_[relation.oid] = std::move(decoder);
    decoder_is_entity_[relation.oid] = is_entity;
  }
  relations_[relation.oid] = std::move(r);
  return Status::Ok();
}

const RowDecoder* Replicator::DecoderFor(uint32_t relation_oid, bool* is_entity) {
  auto it = decoders_.find(relation_oid);
  if (it == decoders_.end()) return nullptr;
  *is_entity = decoder_is_entity_[relation_oid];
  return &it->second;
}

Status Replicator::HandleMessage(std::string_view payload) {
  pg::PgOutputMessage message;
  if (auto s = pg::DecodePgOutput(payload, &message); !s.ok()) return s;

  auto upsert = [&](const RowDecoder& decoder, bool is_entity, const pg::Tuple& tuple) {
    if (is_entity) {
      EntityRow row;
      if (auto s = decoder.DecodeEntity(tuple, &row); !s.ok()) return mirror_.CountUndecodableRow("entity", s);
      mirror_.UpsertEntity(row);
    } else {
      EmbeddingRow row;
      if (auto s = decoder.DecodeEmbedding(tuple, &row); !s.ok()) return mirror_.CountUndecodableRow("embedding", s);
      mirror_.UpsertEmbedding(row);
    }
  };
  auto remove = [&](const RowDecoder& decoder, bool is_entity, const pg::Tuple& tuple) {
    std::string key;
    if (auto s = decoder.DecodeKey(tuple, &key); !s.ok()) {
      return mirror_.CountUndecodableRow(is_entity ? "entity" : "embedding", s);
    }
    if (is_entity) mirror_.RemoveEntity(key); else mirror_.RemoveEmbedding(key);
  };

  if (const auto* m = std::get_if<pg::Begin>(&message)) {
    in_transaction_ = true;
    mirror_.BeginTransaction(m->final_lsn, m->commit_time_us);
  } else if (const auto* m = std::get_if<pg::Commit>(&message)) {
    in_transaction_ = false;
    mirror_.CommitTransaction(m->end_lsn, m->commit_time_us);
  } else if (const auto* m = std::get_if<pg::Relation>(&message)) {
    return HandleRelation(*m);
  } else if (const auto* m = std::get_if<pg::Insert>(&message)) {
    bool is_entity = false;
    if (const auto* d = DecoderFor(m->relation_oid, &is_entity)) upsert(*d, is_entity, m->new_tuple);
  } else if (const auto* m = std::get_if<pg::Update>(&message)) {
    bool is_entity = false;
    if (const auto* d = DecoderFor(m->relation_oid, &is_entity)) {
      // The old tuple comes only when the key changed (or under REPLICA IDENTITY FULL).
      if (m->old_kind != 0) {
        std::string old_key, new_key;
        if (d->DecodeKey(m->old_tuple, &old_key).ok() && d->DecodeKey(m->new_tuple, &new_key).ok() &&
            old_key != new_key) {
          remove(*d, is_entity, m->old_tuple);
        }
      }
      upsert(*d, is_entity, m->new_tuple);
    }
  } else if (const auto* m = std::get_if<pg::Delete>(&message)) {
    bool is_entity = false;
    if (const auto* d = DecoderFor(m->relation_oid, &is_entity)) remove(*d, is_entity, m->old_tuple);
  } else if (const auto* m = std::get_if<pg::Truncate>(&message)) {
    for (uint32_t oid : m->relation_oids) {
      bool is_entity = false;
      if (!DecoderFor(oid, &is_entity)) continue;
      if (is_entity) mirror_.TruncateEntities(); else mirror_.TruncateEmbeddings();
    }
  }
  // Type, Origin and logical messages need no action.
  return Status::Ok();
}

}  // namespace vecmirror
