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

#include "base/status.h"
#include "src/mirror.h"
#include "src/mirrored_tables.h"
#include "src/pg/connection.h"
#include "src/pg/replication_stream.h"

namespace vecmirror {

// `conn` is an ordinary connection with no transaction open; `slot`'s snapshot must still be
// importable (its replication connection has run nothing since creating it). On error the
// Mirror is left mid-load: the caller must not apply it, and starts over with a new slot.
Status LoadSnapshot(pg::PgConnection& conn, const pg::CreatedSlot& slot,
                    const MirroredTables& tables, Mirror& mirror);

}  // namespace vecmirror
