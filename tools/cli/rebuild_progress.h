// How vecmirror-cli shows the rebuilds that RebuildIndex started while it waits for them: one
// plain line per change when the output is not a terminal (logs, CI), a progress bar redrawn
// in place when it is. Pure functions of the IndexInfo that ListIndexes returned.
#pragma once

#include <string>

#include "vecmirror/v1/vecmirror.pb.h"

namespace vecmirror::cli {

// "queued", "running", "cancelling", "done", "failed", "cancelled".
const char* RebuildStateText(v1::RebuildState state);
bool RebuildEnded(const v1::RebuildJob& job);

// Rows per second and the seconds left at that pace; 0 and -1 when not known yet.
double RowsPerSecond(const v1::RebuildJob& job);
double SecondsLeft(const v1::RebuildJob& job);

// "<tenant>/<model>: running hnsw 20000/50000 rows (40%), 5100 rows/s, ETA 6 s", or when it
// ended "<tenant>/<model>: done as hnsw, 50000 rows in 9.8 s" (failed: with the error).
std::string RebuildProgressLine(const v1::IndexInfo& info);

// "[########------------] 40% 20000/50000 rows 5100 rows/s ETA 6 s  <model>", `width` cells of
// bar, no newline: the caller redraws it after a carriage return.
std::string RebuildProgressBar(const v1::IndexInfo& info, int width);

}  // namespace vecmirror::cli
