// The standard process_* families every Prometheus client library exports, read from /proc at
// scrape time: process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_start_time_seconds, process_open_fds, process_max_fds.
// A value /proc does not give (not Linux) is left out.
//
// Thread-safety: safe to call from any thread.
#pragma once

#include "src/metrics/text_format.h"

namespace vecmirror::metrics {

void WriteProcessMetrics(TextWriter& out);

}  // namespace vecmirror::metrics
