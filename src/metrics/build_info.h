// BuildInfo: what this binary is, for vecmirror_build_info, --version and the start-up log line:
// the project's version, the git commit it was built from, the FAISS it links and the distance
// kernel variant this CPU runs (index/kernels.h).
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "src/metrics/text_format.h"

namespace vecmirror::metrics {

struct BuildInfo {
  std::string version;     // "0.1.0", from CMake's project(VERSION)
  std::string git_commit;  // abbreviated hash, "-dirty" appended for uncommitted changes;
                           // "unknown" outside a git checkout
  std::string faiss_version;  // "1.7.3"
  std::string kernel;         // "avx512", "avx2" or "scalar"
};

BuildInfo CurrentBuildInfo();

// "vecmirror 0.1.0 (commit 1a2b3c4d5e6f, FAISS 1.7.3, avx2 kernels)"
std::string BuildInfoText(const BuildInfo& info);

// vecmirror_build_info{version,git_commit,faiss_version,kernel} 1
void WriteBuildInfo(const BuildInfo& info, TextWriter& out);

}  // namespace vecmirror::metrics
