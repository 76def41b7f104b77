#include "src/pg/catalog.h"

namespace vecmirror::pg {

std::string TableName::Qualified() const {
  auto quote = [](const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"') out.push_back('"');
      out.push_back(c);
    }
    return out + "\"";
  };
  return quote(schema) + "." + quote(name);
}

Status FromPqxx(const std::exception& e, const std::string& what) {
  std::string message = e.what();
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string state = sql->sqlstate();
    return Status::IOError(what + ": [" + state + "] " + message);
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e)) {
    return Status::Unavailable(what + ": connection lost: " + message);
  }
  return Status::IOError(what + ": " + message);
}

Status CheckReplicationPrerequisites(pqxx::connection& conn) {
  try {
    pqxx::nontransaction tx(conn);
    const auto row = tx.exec1(
        "SELECT current_setting('wal_level'), r.rolreplication OR r.rolsuper, current_user "
        "FROM pg_roles r WHERE r.rolname = current_user");
    const std::string wal_level = row[0].as<std::string>();
    if (wal_level != "logical") {
      return Status::FailedPrecondition(
          "PostgreSQL has wal_level = " + wal_level +
          "; vecmirror follows changes through logical replication and needs wal_level = "
          "logical. Set it in postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and "
          "restart PostgreSQL.");
    }
    if (!row[1].as<bool>()) {
      return Status::FailedPrecondition(
          "role " + row[2].as<std::string>() +
          " lacks the REPLICATION attribute, which creating a replication slot needs. Run: "
          "ALTER ROLE " + row[2].as<std::string>() + " WITH REPLICATION;");
    }
    return Status::Ok();
  } catch (const std::exception& e) {
    return FromPqxx(e, "checking replication prerequisites");
  }
}

Status WalSegmentBytes(pqxx::connection& conn, uint64_t* bytes) {
  try {
    pqxx::nontransaction tx(conn);
    // current_setting() reports it with a unit ("16MB"); pg_settings has the number of bytes.
    *bytes = tx.exec1("SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'")[0]
                 .as<uint64_t>();
    return Status::Ok();
  } catch (const std::exception& e) {
    return FromPqxx(e, "reading wal_segment_size");
  }
}

Status ReplicaIdentityColumns(pqxx::connection& conn, const TableName& table,
                              std::vector<std::string>* columns) {
  try {
    pqxx::nontransaction tx(conn);
    const auto rows = tx.exec(
        "SELECT a.attname FROM pg_class c "
        "JOIN pg_index i ON i.indrelid = c.oid "
        " AND ((c.relreplident = 'i' AND i.indisreplident) OR "
        "      (c.relreplident <> 'i' AND i.indisprimary)) "
        "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum "
        "WHERE c.oid = to_regclass(" + tx.quote(table.Qualified()) + ") ORDER BY k.ord");
    columns->clear();
    for (const auto& row : rows) columns->push_back(row[0].as<std::string>());
    if (columns->empty()) {
      return Status::FailedPrecondition(
          "table " + table.Qualified() +
          " has no primary key or replica identity index; vecmirror identifies rows by it");
    }
    return Status::Ok();
  } catch (const std::exception& e) {
    return FromPqxx(e, "reading the key of " + table.Qualified());
  }
}

Status ReadVectorColumnType(pqxx::connection& conn, const TableName& table,
                            const std::string& column, VectorColumnType* type) {
  try {
    pqxx::nontransaction tx(conn);
    const auto rows = tx.exec(
        "SELECT t.typname, t.oid::int8 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = to_regclass(" + tx.quote(table.Qualified()) + ") AND a.attname = " +
        tx.quote(column) + " AND NOT a.attisdropped");
    if (rows.empty()) {
      return Status::FailedPrecondition("table " + table.Qualified() + " has no column " + column);
    }
    const std::string name = rows[0][0].as<std::string>();
    VectorColumnType read;
    read.type_oid = static_cast<uint32_t>(rows[0][1].as<int64_t>());
    if (read.type_oid == kFloat4ArrayOid) {
      read.type = VectorType::kFloat4Array;
    } else if (name == "vector") {
      read.type = VectorType::kPgvector;
    } else {
      return Status::FailedPrecondition("column " + table.Qualified() + "." + column + " has type " +
                                        name + "; expected pgvector's vector or real[]");
    }
    *type = read;
    return Status::Ok();
  } catch (const std::exception& e) {
    return FromPqxx(e, "reading the type of " + table.Qualified() + "." + column);
  }
}

Status EnsurePublication(pqxx::connection& conn, const std::string& publication,
                         const std::vector<TableName>& tables) {
  try {
    pqxx::nontransaction tx(conn);
    const auto existing = tx.exec(
        "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = " +
        tx.quote(publication));
    const bool exists =
        !tx.exec("SELECT 1 FROM pg_publication WHERE pubname = " + tx.quote(publication)).empty();
    std::string missing;
    for (const auto& t : tables) {
      bool found = false;
      for (const auto& row : existing) {
        found |= row[0].as<std::string>() == t.schema && row[1].as<std::string>() == t.name;
      }
      if (!found) missing += (missing.empty() ? "" : ", ") + t.Qualified();
    }
    if (missing.empty()) return Status::Ok();
    const std::string sql = (exists ? "ALTER PUBLICATION " + tx.quote_name(publication) + " ADD TABLE "
                                    : "CREATE PUBLICATION " + tx.quote_name(publication) + " FOR TABLE ") +
                            missing;
    try {
      tx.exec0(sql);
    } catch (const pqxx::insufficient_privilege& e) {
      return Status::FailedPrecondition(
          "publication " + publication + " must publish " + missing +
          ", and this role may not create it (it needs ownership of the tables). Run as the "
          "tables' owner: " + sql);
    }
    return Status::Ok();
  } catch (const std::exception& e) {
    return FromPqxx(e, "preparing publication " + publication);
  }
}

Status DropSlotIfExists(pqxx::connection& conn, const std::string& slot) {
  try {
    pqxx::nontransaction tx(conn);
    const auto rows = tx.exec(
        "SELECT active, active_pid FROM pg_replication_slots WHERE slot_name = " + tx.quote(slot));
    if (rows.empty()) return Status::Ok();
    if (rows[0][0].as<bool>()) {
      return Status::Unavailable("replication slot " + slot + " is in use by PID " +
                                 rows[0][1].as<std::string>("?") +
                                 " (another vecmirror, or a previous one whose walsender has not "
                                 "exited yet)");
    }
    tx.exec("SELECT pg_drop_replication_slot(" + tx.quote(slot) + ")");
    return Status::Ok();
  } catch (const std::exception& e) {
    return FromPqxx(e, "dropping replication slot " + slot);
  }
}

Status CurrentWalLsn(pqxx::connection& conn, Lsn* lsn) {
  try {
    pqxx::nontransaction tx(conn);
    const auto text = tx.exec1("SELECT pg_current_wal_lsn()::text")[0].as<std::string>();
    const std::optional<Lsn> parsed = ParseLsn(text);
    if (!parsed) return Status::Corruption("unparsable LSN " + text);
    *lsn = *parsed;
    return Status::Ok();
  } catch (const std::exception& e) {
    return FromPqxx(e, "reading pg_current_wal_lsn()");
  }
}

namespace {

Lsn LsnOrZero(const pqxx::field& f) {
  if (f.is_null()) return 0;
  return ParseLsn(f.as<std::string>()).value_or(0);
}

}  // namespace

Status CurrentWalAndSlot(pqxx::connection& conn, const std::string& slot, Lsn* current,
                         SlotInfo* out) {
  try {
    pqxx::nontransaction tx(conn);
    const auto rows = tx.exec(
        "SELECT pg_current_wal_lsn()::text, s.database, s.plugin, s.confirmed_flush_lsn::text, "
        "s.restart_lsn::text, s.wal_status FROM (SELECT 1) one LEFT JOIN pg_replication_slots s "
        "ON s.slot_name = " + tx.quote(slot));
    *out = SlotInfo();
    *current = LsnOrZero(rows[0][0]);
    if (rows[0][1].is_null()) return Status::Ok();
    out->exists = true;
    out->database = rows[0][1].as<std::string>();
    out->plugin = rows[0][2].as<std::string>("");
    out->confirmed_flush = LsnOrZero(rows[0][3]);
    out->restart_lsn = LsnOrZero(rows[0][4]);
    out->wal_status = rows[0][5].as<std::string>("");
    return Status::Ok();
  } catch (const std::exception& e) {
    return FromPqxx(e, "reading replication slot " + slot);
  }
}

Status ReadSlot(pqxx::connection& conn, const std::string& slot, SlotInfo* out) {
  Lsn current = 0;
  return CurrentWalAndSlot(conn, slot, &current, out);
}

}  // namespace vecmirror::pg
