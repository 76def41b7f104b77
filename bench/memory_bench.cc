// vecmirror_memory_bench: the engine's memory per vector after a load and the ANN promotion,
// through the path the server takes, measured from the process (RSS) and from the allocator.
//
// One Registry with the server's default IndexOptions. The load is the initial load's shape:
// one transaction of --n upserts (KeyedWrites that each carry their own copy of the vector, as
// Mirror::DrainTouched hands them over) applied with Registry::ApplyTransaction, then freed.
// The maintenance thread (Registry::StartMaintenance, as main.cc starts it) then promotes the
// index to HNSW (or IVF, --kind ivf). After each phase the bench prints:
//
//   rss      resident set size, /proc/self/statm: what the machine pays
//   in_use   bytes the allocator has handed out and not taken back (mallinfo2 uordblks + hblkhd)
//   held     bytes the allocator holds free without returning them (mallinfo2 fordblks)
//   stats    EntityIndex's own estimate (IndexStats::memory_bytes)
//
// each as a delta to the start, per vector, and as a ratio to the raw fp32 vector (dim * 4
// bytes). The peak RSS (VmHWM) covers the build's transient copies. No PostgreSQL and no
// mirror: the mirror's own copy of each vector is not counted here.
//
// Run: vecmirror_memory_bench [--n 100000] [--dim 1536] [--kind hnsw|ivf]
//          [--vector-storage fp32|fp16|sq8] [--trim-at-end]
//   --kind            the ANN kind of the promotion (IndexOptions::ann_kind), as --ann-kind
//   --vector-storage  the HNSW rows' storage (IndexOptions::storage), as the server's flag
//   --trim-at-end  calls malloc_trim(0) after the promotion and measures once more: what the
//                  allocator held that it could have returned.
#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/machine.h"
#include "index/registry.h"
#include "tests/support/test_id.h"
#include "tests/support/vector_stream.h"

namespace vecmirror {
namespace {

struct Memory {
  double rss = 0;
  double in_use = 0;
  double held = 0;
  double stats = 0;
};

Memory Measure(const Registry& registry) {
  Memory m;
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  m.rss = double(resident) * double(sysconf(_SC_PAGESIZE));
  const struct mallinfo2 info = mallinfo2();
  m.in_use = double(info.uordblks + info.hblkhd);
  m.held = double(info.fordblks);
  for (const IndexInfo& index : registry.List()) m.stats += double(index.stats.memory_bytes);
  return m;
}

// /proc/self/status's VmHWM (peak resident set), in bytes.
double PeakRss() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) * 1024.0;
  }
  return 0;
}

void Print(const char* phase, const Memory& m, const Memory& start, size_t n, size_t dim) {
  const double raw = double(dim * sizeof(float));
  auto per = [&](double now, double then) { return (now - then) / double(n); };
  std::printf("%-28s rss %8.0f B/vec (%.2fx raw)  in_use %8.0f B/vec (%.2fx)  held %8.0f B/vec"
              "  stats %8.0f B/vec (%.2fx)\n",
              phase, per(m.rss, start.rss), per(m.rss, start.rss) / raw,
              per(m.in_use, start.in_use), per(m.in_use, start.in_use) / raw,
              per(m.held, start.held), m.stats / double(n), m.stats / double(n) / raw);
  std::fflush(stdout);
}

int Run(size_t n, size_t dim, IndexKind kind, VectorStorage storage, bool trim_at_end) {
  std::printf("vecmirror_memory_bench: %zu x %zu, %s, %s rows, nproc %ld, CPU %s\n", n, dim,
              IndexKindName(kind), VectorStorageName(storage), sysconf(_SC_NPROCESSORS_ONLN),
              bench::CpuModel().c_str());
  // The server's defaults (IndexOptions): HNSW above 5,000 rows, M 32, ef_construction 128.
  IndexOptions options;
  options.ann_kind = kind;
  options.storage = storage;
  Registry registry(options);
  const IndexKey key{testing::TestId(1'000'000'000), "bench", uint32_t(dim)};
  const Memory start = Measure(registry);

  {
    std::vector<KeyedWrite> writes(n);
    testing::VectorStream stream(dim);
    for (size_t i = 0; i < n; ++i) {
      KeyedWrite& w = writes[i];
      w.key = key;
      w.write.entity_id = testing::TestId(i);
      w.write.type = EntityTypeCode(i % 4);
      w.write.vector.resize(dim);
      stream.Next(w.write.vector.data());
    }
    Print("writes built", Measure(registry), start, n, dim);
    registry.ApplyTransaction(writes, 1);
    Print("applied (flat tail)", Measure(registry), start, n, dim);
  }
  Print("writes freed", Measure(registry), start, n, dim);

  const auto build_start = std::chrono::steady_clock::now();
  const double cpu_start = bench::ProcessCpuSeconds();
  registry.StartMaintenance(std::chrono::milliseconds(20));
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const std::vector<IndexInfo> list = registry.List();
    const IndexStats& s = list.at(0).stats;
    if (s.kind == kind && !s.rebuilding && s.tail == 0) break;
  }
  registry.StopMaintenance();
  const double build_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - build_start).count();
  std::printf("promotion to %s: %.1f s wall, %.1f s CPU (all threads)\n", IndexKindName(kind),
              build_s, bench::ProcessCpuSeconds() - cpu_start);
  Print(kind == IndexKind::kIvf ? "promoted (IVF)" : "promoted (HNSW)", Measure(registry), start,
        n, dim);
  std::printf("%-28s %8.0f B/vec over the whole process (%.2fx raw)\n", "peak rss (VmHWM)",
              PeakRss() / double(n), PeakRss() / double(n) / double(dim * sizeof(float)));
  if (trim_at_end) {
    const auto trim_start = std::chrono::steady_clock::now();
    malloc_trim(0);
    std::printf("malloc_trim(0): %.1f ms\n",
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                          trim_start).count());
    Print("after malloc_trim(0)", Measure(registry), start, n, dim);
  }
  return 0;
}

}  // namespace
}  // namespace vecmirror

int main(int argc, char** argv) {
  size_t n = 100000, dim = 1536;
  bool trim_at_end = false;
  std::string storage = "fp32";
  std::string kind = "hnsw";
  CLI::App app{"vecmirror_memory_bench: memory per vector after a load and the HNSW promotion"};
  app.add_option("--n", n, "rows")->capture_default_str();
  app.add_option("--dim", dim, "dimensions")->capture_default_str();
  app.add_option("--kind", kind, "ANN kind of the promotion: hnsw or ivf")
      ->check(CLI::IsMember({"hnsw", "ivf"}))
      ->capture_default_str();
  app.add_option("--vector-storage", storage, "fp32, fp16 or sq8")
      ->check(CLI::IsMember({"fp32", "fp16", "sq8"}))
      ->capture_default_str();
  app.add_flag("--trim-at-end", trim_at_end, "malloc_trim(0) after the promotion, and measure again");
  CLI11_PARSE(app, argc, argv);
  vecmirror::IndexKind ann_kind;
  vecmirror::VectorStorage rows;
  (void)vecmirror::ParseIndexKind(kind, &ann_kind);  // both checked by CLI11 above
  (void)vecmirror::ParseVectorStorage(storage, &rows);
  return vecmirror::Run(n, dim, ann_kind, rows, trim_at_end);
}
