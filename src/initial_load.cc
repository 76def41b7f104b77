#include "src/initial_load.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "src/logging/log_fields.h"
#include "src/pg/copy_binary.h"

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

 private:
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
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

// Streams `SELECT <CopyColumns> FROM table where` as binary COPY into the Mirror, with progress
// lines.
Status CopyTable(pg::PgConnection& conn, const MirroredTables& tables, MirroredTable table,
                 const std::string& where, Mirror& mirror) {
  const std::vector<std::string> columns = tables.CopyColumns(table);
  RowDecoder decoder;
  if (auto s = tables.NewDecoder(table, columns, &decoder); !s.ok()) return s;
  const pg::TableName& name = tables.table_name(table);
  const std::string sql = "COPY (SELECT " + SelectList(columns, conn) + " FROM " +
                          name.Qualified() + where + ") TO STDOUT (FORMAT binary)";
  LoadProgress progress(name.name);
  pg::CopyBinaryParser parser([&](const pg::Tuple& tuple) {
    mirror.UpsertTuple(decoder, tuple);
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

}  // namespace

Status LoadSnapshot(pg::PgConnection& conn, const pg::CreatedSlot& slot,
                    const MirroredTables& tables, Mirror& mirror) {
  if (auto s = conn.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !s.ok()) return s;
  if (auto s = conn.Exec("SET TRANSACTION SNAPSHOT " + conn.EscapeLiteral(slot.snapshot_name));
      !s.ok()) {
    return s;
  }
  mirror.BeginLoad();

  // Only current entity versions: closed and deleted ones can never be searchable.
  const EntityColumns& ec = tables.entity_columns();
  const std::string current_only = " WHERE " + conn.EscapeIdentifier(ec.valid_to) + " IS NULL AND " +
                                   conn.EscapeIdentifier(ec.deleted_at) + " IS NULL";
  if (auto s = CopyTable(conn, tables, MirroredTable::kEntity, current_only, mirror); !s.ok()) return s;
  // Every embedding row, pending and failed too: a later status-only UPDATE sends the vector as
  // "unchanged".
  if (auto s = CopyTable(conn, tables, MirroredTable::kEmbedding, "", mirror); !s.ok()) return s;
  if (auto s = conn.Exec("COMMIT"); !s.ok()) return s;

  const auto apply_start = Clock::now();
  mirror.FinishLoad(slot.consistent_point);
  LogWithFields({{"lsn", pg::FormatLsn(slot.consistent_point)}}, spdlog::level::info,
                "initial load applied at {}: {} current entities, {} embeddings, indexed in {:.2f} s",
                pg::FormatLsn(slot.consistent_point), mirror.entity_count(),
                mirror.embedding_count(),
                std::chrono::duration<double>(Clock::now() - apply_start).count());
  return Status::Ok();
}

Status CreateSlotAndLoad(pqxx::connection& control, pg::ReplicationStream& stream,
                         const std::string& conninfo, const std::string& slot_name,
                         const MirroredTables& tables, Mirror& mirror,
                         const std::function<bool(PGconn*)>& on_blocking, pg::CreatedSlot* slot) {
  // Registers `conn` for the scope of one blocking statement.
  auto enter = [&](PGconn* conn) { return !on_blocking || on_blocking(conn); };
  auto leave = [&] {
    if (on_blocking) on_blocking(nullptr);
  };
  if (auto s = pg::DropSlotIfExists(control, slot_name); !s.ok()) return s;
  if (!enter(stream.raw())) {
    leave();
    return Status::Unavailable("stopping");
  }
  Status created = stream.CreateSlot(slot_name, slot);
  leave();
  if (!created.ok()) return created;
  spdlog::info("slot {} created at {}; loading the snapshot", slot_name,
               pg::FormatLsn(slot->consistent_point));

  std::unique_ptr<pg::PgConnection> conn;
  if (auto s = pg::PgConnection::Connect(conninfo, false, &conn); !s.ok()) return s;
  if (!enter(conn->raw())) {
    leave();
    return Status::Unavailable("stopping");
  }
  const Status loaded = LoadSnapshot(*conn, *slot, tables, mirror);
  leave();
  return loaded;
}

}  // namespace vecmirror
