// The initial load: reads entity and embedding under the exported snapshot of a new replication
// slot with binary COPY, hands each tuple to the Mirror as it arrives (nothing is held whole),
// logs "initial load: <table> N rows, M MB, R rows/s" every two seconds and once at the end, and
// applies the whole snapshot as one step at the slot's consistent point, where the stream then
// starts.
//
// Only current entity versions are copied: closed and deleted ones can never be searchable.
// Every embedding row is, pending and failed ones too: a later status-only UPDATE sends the
// vector as "unchanged", and the Mirror must know it then.
//
// Thread-safety: runs on the calling thread, which alone uses `conn` and `mirror` until it
// returns. Another thread may stop it early by cancelling the COPY (pg::QueryCanceller).
#pragma once

#include <functional>
#include <string>

#include "base/status.h"
#include "src/mirror.h"
#include "src/mirrored_tables.h"
#include "src/pg/catalog.h"
#include "src/pg/connection.h"
#include "src/pg/replication_stream.h"

namespace vecmirror {

// `conn` is an ordinary connection with no transaction open; `slot`'s snapshot must still be
// importable (its replication connection has run nothing since creating it). On error the
// Mirror is left mid-load: the caller must not apply it, and starts over with a new slot.
Status LoadSnapshot(pg::PgConnection& conn, const pg::CreatedSlot& slot,
                    const MirroredTables& tables, Mirror& mirror);

// The fresh load, shared by the Replicator and vecmirror-rebuild: drops the replication slot
// `slot_name` if it exists (over `control`), creates it again on `stream` with an exported
// snapshot, and loads that snapshot into `mirror` over a new connection to `conninfo`
// (LoadSnapshot). `slot` gets the new slot: the mirror then holds exactly the rows as of
// slot->consistent_point (LoadSnapshot applied it there), where streaming from the slot
// continues. `on_blocking`, if set, is called with the connection
// of each statement that may block for long (the slot creation, which waits for open
// transactions; the COPY) before it runs, and with nullptr after it; returning false stops the
// load with Unavailable("stopping"). The caller may cancel that connection from another thread.
Status CreateSlotAndLoad(pqxx::connection& control, pg::ReplicationStream& stream,
                         const std::string& conninfo, const std::string& slot_name,
                         const MirroredTables& tables, Mirror& mirror,
                         const std::function<bool(PGconn*)>& on_blocking, pg::CreatedSlot* slot);

}  // namespace vecmirror
