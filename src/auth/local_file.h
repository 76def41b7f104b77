// ReadLocalFile: reads one of the small files security is configured from (a tokens file, a
// PEM certificate, key or CA bundle) and says whether users other than its owner may read it,
// so that start-up can warn about a secret left readable.
//
// Thread-safety: a pure function of the file system; safe from any thread.
#pragma once

#include <cstddef>
#include <string>

#include "base/status.h"

namespace vecmirror::auth {

// The largest file ReadLocalFile reads: far above any real tokens file or PEM bundle, and a
// bound on what a wrong path (a device, a log) can make start-up read.
inline constexpr size_t kMaxLocalFileBytes = 4 << 20;

struct LocalFile {
  std::string text;
  bool readable_by_others = false;  // the mode grants read to the group or to others
};

// Reads the regular file at `path` (symlinks followed). Fails with IOError naming the path
// and the reason when it can't be read, is not a regular file, or is larger than
// kMaxLocalFileBytes.
Status ReadLocalFile(const std::string& path, LocalFile* out);

}  // namespace vecmirror::auth
