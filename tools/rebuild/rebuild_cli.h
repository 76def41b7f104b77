// vecmirror-rebuild: builds the service's indexes offline and writes a snapshot the service
// starts from (index/snapshot.h), instead of building every index itself after a fresh load.
//
//   From PostgreSQL (the service stopped): recreates the service's replication slot with an
//   exported snapshot, exactly as the service's fresh load does (CreateSlotAndLoad,
//   src/initial_load.h), loads the rows through the real Mirror, builds every index to the kind
//   the size policy (or --kind) says, and writes a snapshot at the slot's consistent point with
//   the service's source (system identifier, database, --slot, --publication). The service
//   started with the same --snapshot-dir, --slot, --publication and --models resumes from it
//   and streams the changes committed since.
//
//   --from-snapshot DIR: loads the newest snapshot in DIR, rebuilds its indexes with other
//   parameters and writes a new snapshot (same source, LSN and mirror state) into
//   --snapshot-dir (default DIR). No PostgreSQL.
//
// --tenant/--model choose what is built. A snapshot the service resumes from must hold every
// row it serves, so the indexes passed over are written as they are: from PostgreSQL, as
// loaded (flat, unbuilt: the service builds them in the background by its own policy after it
// resumes); from a snapshot, unchanged.
//
// Thread-safety: RunRebuild is a whole program run; call it from one thread.
#pragma once

#include <ostream>

namespace vecmirror::rebuild {

// Parses argv, runs, prints the plan or the summary to `out` and progress and errors to `err`.
// Returns the exit code: 0 done, 1 failed, 2 bad flags.
int RunRebuild(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
               bool err_is_terminal);

}  // namespace vecmirror::rebuild
