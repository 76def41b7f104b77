#include "src/metrics/build_info.h"

#include <faiss/Index.h>

#include "index/kernels.h"
#include "src/metrics/build_version.h"  // generated: kBuildVersion, kBuildGitCommit

namespace vecmirror::metrics {

BuildInfo CurrentBuildInfo() {
  BuildInfo info;
  info.version = kBuildVersion;
  info.git_commit = kBuildGitCommit;
  info.faiss_version = std::to_string(FAISS_VERSION_MAJOR) + "." +
                       std::to_string(FAISS_VERSION_MINOR) + "." +
                       std::to_string(FAISS_VERSION_PATCH);
  info.kernel = KernelVariantName();
  return info;
}

std::string BuildInfoText(const BuildInfo& info) {
  return "vecmirror " + info.version + " (commit " + info.git_commit + ", FAISS " +
         info.faiss_version + ", " + info.kernel + " kernels)";
}

void WriteBuildInfo(const BuildInfo& info, TextWriter& out) {
  out.Family("vecmirror_build_info", MetricType::kGauge,
             "The running build (value 1): version, git commit, FAISS version, distance kernel.");
  out.Sample("vecmirror_build_info",
             {{"version", info.version},
              {"git_commit", info.git_commit},
              {"faiss_version", info.faiss_version},
              {"kernel", info.kernel}},
             1);
}

}  // namespace vecmirror::metrics
