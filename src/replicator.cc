#include "src/replicator.h"

#include <spdlog/spdlog.h>

#include <pqxx/pqxx>

#include <algorithm>
#include <optional>

#include "src/initial_load.h"
#include "src/logging/log_fields.h"

namespace vecmirror {
namespace {

using Clock = std::chrono::steady_clock;

bool SlotIsGone(const std::string& sqlstate, const std::string& message) {
  return sqlstate == pg::kSqlstateUndefinedObject ||
         message.find("does not exist") != std::string::npos ||
         message.find("invalidated") != std::string::npos;
}

}  // namespace

Replicator::Replicator(ReplicatorOptions options, Mirror& mirror, Registry& registry,
                       MirrorStatusBoard& board, Snapshotter* snapshotter)
    : options_(std::move(options)),
      mirror_(mirror),
      registry_(registry),
      board_(board),
      snapshotter_(snapshotter != nullptr && snapshotter->enabled() ? snapshotter : nullptr),
      tables_(options_.entity_table, options_.entity_columns, options_.embedding_table,
              options_.embedding_columns) {
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
  uint64_t wal_segment_bytes = 0;
  if (auto s = pg::WalSegmentBytes(*control_, &wal_segment_bytes); !s.ok()) return s;
  board_.Update([&](MirrorState& st) { st.wal_segment_bytes = wal_segment_bytes; });
  if (auto s = pg::EnsurePublication(*control_, options_.publication,
                                     {options_.entity_table, options_.embedding_table});
      !s.ok()) {
    return s;
  }
  return tables_.ReadCatalog(*control_);
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
  if (snapshotter_ && source_.system_identifier.empty()) {
    pg::SystemIdentity identity;
    if (auto s = stream->IdentifySystem(&identity); !s.ok()) return s;
    source_ = SnapshotSource{identity.system_identifier, identity.database, options_.slot_name,
                             options_.publication};
  }
  if (need_load_ && snapshotter_ && !tried_resume_) {
    const Status resumed = ResumeFromSnapshot();
    if (resumed.code() == Status::Code::kUnavailable) return resumed;  // try again on reconnect
    tried_resume_ = true;
    if (resumed.ok()) {
      need_load_ = false;
    } else {
      spdlog::log(resumed.code() == Status::Code::kNotFound ? spdlog::level::info
                                                            : spdlog::level::warn,
                  "not resuming from a snapshot: {}; a fresh initial load follows",
                  resumed.message());
    }
  }
  if (!need_load_) return Stream(std::move(stream), registry_.applied_lsn());

  pg::CreatedSlot slot;
  {
    // Stop() cancels the slot creation or the COPY, whichever runs.
    std::optional<CancelOnStop> cancel_on_stop;
    auto on_blocking = [&](PGconn* conn) {
      cancel_on_stop.reset();
      if (conn != nullptr) cancel_on_stop.emplace(*this, conn);
      return !stopping_;
    };
    SetState("loading");
    // Said before the load can complete: whoever sees the mirror loaded sees where it started.
    if (snapshotter_) {
      board_.Update([](MirrorState& st) { st.snapshots.started_from = "initial load"; });
    }
    if (auto s = CreateSlotAndLoad(*control_, *stream, options_.conninfo, options_.slot_name,
                                   tables_, mirror_, on_blocking, &slot);
        !s.ok()) {
      return s;
    }
  }
  need_load_ = false;
  tried_resume_ = true;  // the snapshots predate this slot: none can be resumed any more
  if (snapshotter_) {
    // Nothing before the consistent point is needed; snapshot the load at once, so that a
    // restart from here needs no second load.
    snapshotter_->set_durable_lsn(slot.consistent_point, board_.Get().changes_applied);
    const uint64_t rebuilds = snapshotter_->rebuilds();
    snapshotter_->WriteInBackground(TakeCut(), board_.Get().changes_applied, rebuilds);
  }
  return Stream(std::move(stream), slot.consistent_point);
}

Status Replicator::ResumeFromSnapshot() {
  const auto started = Clock::now();
  const std::string& directory = snapshotter_->options().directory;
  if (ListSnapshots(directory).empty()) {
    return Status::NotFound("no snapshot in " + directory + " yet");
  }
  // The snapshot first: its reasons (checksums, another database) say more than the slot's.
  LoadedSnapshot loaded;
  if (auto s = snapshotter_->LoadNewest(source_, registry_.options(), &loaded); !s.ok()) {
    return Status::FailedPrecondition(s.message());
  }
  pg::SlotInfo slot;
  if (auto s = pg::ReadSlot(*control_, options_.slot_name, &slot); !s.ok()) {
    return Status::Unavailable(s.message());
  }
  if (!slot.exists) return Status::NotFound("replication slot " + options_.slot_name + " does not exist");
  if (slot.wal_status == "lost") {
    return Status::FailedPrecondition("replication slot " + options_.slot_name +
                                      " was invalidated (its WAL was removed)");
  }
  if (slot.database != source_.database || slot.plugin != "pgoutput") {
    return Status::FailedPrecondition("replication slot " + options_.slot_name + " decodes " +
                                      slot.database + " with " + slot.plugin + ", not " +
                                      source_.database + " with pgoutput");
  }
  if (slot.confirmed_flush > loaded.lsn) {
    return Status::FailedPrecondition(
        "snapshot " + loaded.path + " covers up to " + pg::FormatLsn(loaded.lsn) + " but slot " +
        options_.slot_name + " was confirmed up to " + pg::FormatLsn(slot.confirmed_flush) +
        ": the WAL in between is gone");
  }
  const uint64_t lsn = loaded.lsn;
  const std::string path = loaded.path;
  if (Status s = registry_.Restore(std::move(loaded.indexes), loaded.type_names, lsn); !s.ok()) {
    registry_.Reset(0);
    return Status::FailedPrecondition("snapshot " + path + ": " + s.message());
  }
  if (Status s = mirror_.RestoreState(loaded.mirror_state); !s.ok()) {
    registry_.Reset(0);
    return Status::FailedPrecondition("snapshot " + path + ": " + s.message());
  }
  snapshotter_->set_durable_lsn(lsn, 0);
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  board_.Update([&](MirrorState& st) {
    st.applied_lsn = lsn;
    st.confirmed_lsn = slot.confirmed_flush;
    st.loaded = true;
    st.snapshots.started_from = "resumed from " + path + " at " + pg::FormatLsn(lsn);
  });
  LogWithFields({{"lsn", pg::FormatLsn(lsn)}, {"duration_seconds", seconds}}, spdlog::level::info,
                "resumed from snapshot {} at {} in {:.2f} s: {} entities, {} embeddings; "
                "streaming the changes since",
                path, pg::FormatLsn(lsn), seconds, mirror_.entity_count(),
                mirror_.embedding_count());
  return Status::Ok();
}

SnapshotCut Replicator::TakeCut() {
  SnapshotCut cut;
  cut.source = source_;
  RegistryImage image = registry_.Capture();
  cut.lsn = image.lsn;
  cut.type_names = std::move(image.type_names);
  cut.indexes = std::move(image.indexes);
  cut.mirror_state = mirror_.EncodeState();
  return cut;
}

void Replicator::MaybeSnapshot() {
  if (!snapshotter_ || !mirror_.at_transaction_boundary()) return;
  const uint64_t changes = board_.Get().changes_applied;
  if (!snapshotter_->Due(registry_.applied_lsn(), changes)) return;
  const uint64_t rebuilds = snapshotter_->rebuilds();
  snapshotter_->WriteInBackground(TakeCut(), changes, rebuilds);
}

void Replicator::WriteFinalSnapshot() {
  if (!snapshotter_ || !board_.loaded()) return;
  if (!snapshotter_->HasNews(registry_.applied_lsn())) return;
  if (!mirror_.at_transaction_boundary()) {
    spdlog::warn("no snapshot at shutdown: the mirror stopped inside a transaction; the next "
                 "start resumes from the snapshot at {}",
                 pg::FormatLsn(snapshotter_->durable_lsn()));
    return;
  }
  spdlog::info("writing a snapshot at {} before exiting", pg::FormatLsn(registry_.applied_lsn()));
  snapshotter_->WriteNow(TakeCut());
}

Status Replicator::Stream(std::unique_ptr<pg::ReplicationStream> stream, pg::Lsn start) {
  decoders_.clear();
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
    if (!received) {
      if (!in_transaction_) MaybeSnapshot();
      continue;
    }
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
    if (was_in_transaction && !in_transaction_) {
      MaybeSnapshot();
      if (Clock::now() - last_status_ > std::chrono::milliseconds(200)) {
        if (auto s = SendStatus(*stream, false); !s.ok()) return s;
      }
    }
  }
  return Status::Ok();
}

Status Replicator::SendStatus(pg::ReplicationStream& stream, bool reply_requested) {
  // Without snapshots every start takes a fresh load, so an applied transaction is never needed
  // again: confirm it. With them, a restart resumes from the newest durable snapshot: confirm no
  // further, so the server keeps the WAL after it. The write position (all received) lets the
  // server's shutdown proceed either way.
  const pg::Lsn applied = registry_.applied_lsn();
  const pg::Lsn flush = snapshotter_ ? std::min(applied, snapshotter_->durable_lsn()) : applied;
  confirmed_ = std::max(confirmed_, flush);
  last_status_ = Clock::now();
  board_.Update([&](MirrorState& s) { s.confirmed_lsn = confirmed_; });
  return stream.SendStatus(std::max(received_, applied), confirmed_, confirmed_, reply_requested);
}

void Replicator::PollServerLsn() {
  last_lag_poll_ = Clock::now();
  if (!control_) return;
  pg::Lsn server = 0;
  pg::SlotInfo slot;
  if (auto s = pg::CurrentWalAndSlot(*control_, options_.slot_name, &server, &slot); !s.ok()) {
    spdlog::debug("lag poll failed: {}", s.ToString());
    return;
  }
  const pg::Lsn applied = registry_.applied_lsn();
  const uint64_t retained =
      slot.exists && slot.restart_lsn != 0 && server > slot.restart_lsn ? server - slot.restart_lsn : 0;
  board_.Update([&](MirrorState& st) {
    st.server_lsn = server;
    st.retained_wal_bytes = retained;
    if (server <= applied) st.lag_seconds = 0;
  });
  // Warn once per crossing: a stuck snapshot schedule (or a failing disk) shows here first.
  if (retained > options_.max_retained_wal_bytes && !warned_retained_wal_) {
    spdlog::warn("slot {} retains {:.1f} MB of WAL, over the {:.1f} MB limit "
                 "(--max-retained-wal-bytes); snapshots confirm up to {}",
                 options_.slot_name, retained / 1e6, options_.max_retained_wal_bytes / 1e6,
                 pg::FormatLsn(confirmed_));
    warned_retained_wal_ = true;
  } else if (retained <= options_.max_retained_wal_bytes) {
    warned_retained_wal_ = false;
  }
}

Status Replicator::HandleRelation(const pg::Relation& relation) {
  decoders_.erase(relation.oid);
  const std::optional<MirroredTable> table = tables_.TableOf(relation);
  if (!table) return Status::Ok();  // another table of the publication
  if (auto s = tables_.CheckVectorType(relation); !s.ok()) {
    need_load_ = true;
    return Status::Unavailable(s.message() + "; a fresh initial load follows");
  }
  RowDecoder decoder;
  if (auto s = tables_.NewDecoder(*table, relation, &decoder); !s.ok()) return s;
  decoders_.emplace(relation.oid, std::move(decoder));
  return Status::Ok();
}

const RowDecoder* Replicator::DecoderFor(uint32_t relation_oid) const {
  auto it = decoders_.find(relation_oid);
  return it == decoders_.end() ? nullptr : &it->second;
}

Status Replicator::HandleMessage(std::string_view payload) {
  pg::PgOutputMessage message;
  if (auto s = pg::DecodePgOutput(payload, &message); !s.ok()) return s;

  if (const auto* m = std::get_if<pg::Begin>(&message)) {
    in_transaction_ = true;
    mirror_.BeginTransaction(m->final_lsn, m->commit_time_us);
  } else if (const auto* m = std::get_if<pg::Commit>(&message)) {
    in_transaction_ = false;
    mirror_.CommitTransaction(m->end_lsn, m->commit_time_us);
  } else if (const auto* m = std::get_if<pg::Relation>(&message)) {
    return HandleRelation(*m);
  } else if (const auto* m = std::get_if<pg::Insert>(&message)) {
    if (const RowDecoder* d = DecoderFor(m->relation_oid)) mirror_.UpsertTuple(*d, m->new_tuple);
  } else if (const auto* m = std::get_if<pg::Update>(&message)) {
    if (const RowDecoder* d = DecoderFor(m->relation_oid)) {
      // The old tuple comes only when the key changed (or under REPLICA IDENTITY FULL).
      if (m->old_kind != 0) {
        std::string old_key, new_key;
        if (d->DecodeKey(m->old_tuple, &old_key).ok() && d->DecodeKey(m->new_tuple, &new_key).ok() &&
            old_key != new_key) {
          mirror_.RemoveTuple(*d, m->old_tuple);
        }
      }
      mirror_.UpsertTuple(*d, m->new_tuple);
    }
  } else if (const auto* m = std::get_if<pg::Delete>(&message)) {
    if (const RowDecoder* d = DecoderFor(m->relation_oid)) mirror_.RemoveTuple(*d, m->old_tuple);
  } else if (const auto* m = std::get_if<pg::Truncate>(&message)) {
    for (uint32_t oid : m->relation_oids) {
      if (const RowDecoder* d = DecoderFor(oid)) mirror_.Truncate(d->table());
    }
  }
  // Type, Origin and logical messages need no action.
  return Status::Ok();
}

}  // namespace vecmirror
