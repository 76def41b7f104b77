// vecmirror_snapshot_bench: what a snapshot saves at restart. For each size, one HNSW index of
// n x dim clustered vectors (tools/datagen): the time to build its graph (what a fresh load
// pays on top of reading the rows), to capture and write a snapshot of it (fsync included), and
// to load that snapshot back, from the page cache and with the files evicted from it
// (posix_fadvise DONTNEED after their fsync). Also the CRC-32 rate, search latency with and
// without a snapshot being written meanwhile, and a check that the loaded index answers every
// query exactly as the original. Prints Markdown for bench/RESULTS.md, "Snapshots".
//
// Run: vecmirror_snapshot_bench [--sizes 50000,100000] [--dim 1536] [--runs 5] [--dir DIR]
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/machine.h"
#include "index/checksummed_file.h"
#include "index/entity_index.h"
#include "index/snapshot.h"
#include "tools/datagen/vector_space.h"

namespace vecmirror::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

Uuid IdOf(uint64_t i) {
  Uuid id;
  const uint64_t a = (i + 1) * 0x9E3779B97F4A7C15ULL;
  std::memcpy(id.bytes.data(), &a, 8);
  std::memcpy(id.bytes.data() + 8, &i, 8);
  return id;
}

void EvictFromPageCache(const std::string& dir) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    const int fd = open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
  }
}

// Search latencies (seconds) of one thread searching for `seconds`.
std::vector<double> SearchFor(const EntityIndex& index, const std::vector<std::vector<float>>& queries,
                              double seconds, const std::atomic<bool>* stop = nullptr) {
  std::vector<double> latencies;
  const auto start = Clock::now();
  for (size_t i = 0; Seconds(start) < seconds && !(stop && stop->load()); ++i) {
    SearchQuery q;
    q.vector = queries[i % queries.size()];
    q.limit = 10;
    const auto t = Clock::now();
    const SearchResult r = index.Search(q);
    latencies.push_back(Seconds(t));
    if (r.hits.empty()) std::abort();
  }
  return latencies;
}

struct Figures {
  size_t n = 0;
  double build = 0, capture = 0, write = 0, load_warm = 0, load_cold = 0;
  double build_cpu = 0, load_warm_cpu = 0;  // CPU seconds of every thread
  uint64_t bytes = 0;
  size_t mismatches = 0;
  double p50_idle = 0, p99_idle = 0, p50_writing = 0, p99_writing = 0;
};

Figures Run(size_t n, size_t dim, int runs, const std::string& dir) {
  Figures f;
  f.n = n;
  const datagen::ClusteredVectors space(static_cast<uint32_t>(dim), 32, 1234);
  IndexKey key{IdOf(999999), "text-embedding-3-small", static_cast<uint32_t>(dim)};
  IndexOptions options;
  auto index = std::make_unique<EntityIndex>(key, options);
  {
    std::vector<IndexWrite> writes(n);
    for (size_t i = 0; i < n; ++i) {
      writes[i].entity_id = IdOf(i);
      writes[i].type = static_cast<EntityTypeCode>(i % 3);
      writes[i].vector.resize(dim);
      space.Vector(i, writes[i].vector.data());
    }
    index->Apply(writes, 1000);
  }
  std::printf("  %zu rows applied; building the graph...\n", n);
  std::fflush(stdout);
  auto t = Clock::now();
  double cpu = ProcessCpuSeconds();
  if (!index->Rebuild(IndexKind::kHnsw).ok()) std::abort();
  f.build = Seconds(t);
  f.build_cpu = ProcessCpuSeconds() - cpu;

  std::vector<std::vector<float>> queries;
  for (size_t q = 0; q < 200; ++q) queries.push_back(space.Query(q));

  const SnapshotSource source{"1", "db", "slot", "pub"};
  std::vector<double> capture, write, warm, cold, warm_cpu;
  std::string path;
  for (int r = 0; r < runs; ++r) {
    t = Clock::now();
    SnapshotCut cut;
    cut.source = source;
    cut.lsn = 1000;
    cut.type_names = {"context", "template", "persona"};
    cut.indexes.push_back(index->Capture());
    capture.push_back(Seconds(t));
    t = Clock::now();
    SnapshotWriteOptions write_options;
    write_options.keep = 1;
    if (Status s = WriteSnapshot(dir, cut, write_options, &path); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      std::abort();
    }
    write.push_back(Seconds(t));
  }
  f.bytes = 0;
  for (const auto& entry : fs::directory_iterator(path)) f.bytes += entry.file_size();

  std::unique_ptr<EntityIndex> loaded;
  for (int r = 0; r < runs; ++r) {
    for (bool evict : {false, true}) {
      if (evict) EvictFromPageCache(path);
      loaded.reset();
      LoadedSnapshot snapshot;
      t = Clock::now();
      cpu = ProcessCpuSeconds();
      if (Status s = LoadNewestSnapshot(dir, source, options, &snapshot, nullptr); !s.ok()) {
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        std::abort();
      }
      (evict ? cold : warm).push_back(Seconds(t));
      if (!evict) warm_cpu.push_back(ProcessCpuSeconds() - cpu);
      loaded = std::move(snapshot.indexes.front());
    }
  }
  f.capture = Median(capture);
  f.write = Median(write);
  f.load_warm = Median(warm);
  f.load_cold = Median(cold);
  f.load_warm_cpu = Median(warm_cpu);

  for (const auto& v : queries) {
    SearchQuery q;
    q.vector = v;
    q.limit = 10;
    const SearchResult a = index->Search(q);
    const SearchResult b = loaded->Search(q);
    bool same = a.hits.size() == b.hits.size() && a.kind == b.kind;
    for (size_t i = 0; same && i < a.hits.size(); ++i) {
      same = a.hits[i].entity_id == b.hits[i].entity_id &&
             a.hits[i].similarity == b.hits[i].similarity;
    }
    f.mismatches += same ? 0 : 1;
  }
  loaded.reset();

  // One searching thread, idle vs while snapshots are written back to back.
  const double window = std::max(2.0, 2 * f.write);
  const std::vector<double> idle = SearchFor(*index, queries, window);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!stop.load()) {
      SnapshotCut cut;
      cut.source = source;
      cut.type_names = {"context", "template", "persona"};
      cut.indexes.push_back(index->Capture());
      std::string p;
      SnapshotWriteOptions write_options;
      write_options.keep = 1;
      (void)WriteSnapshot(dir, cut, write_options, &p);
    }
  });
  const std::vector<double> writing = SearchFor(*index, queries, window);
  stop = true;
  writer.join();
  f.p50_idle = Percentile(idle, 0.5) * 1e3;
  f.p99_idle = Percentile(idle, 0.99) * 1e3;
  f.p50_writing = Percentile(writing, 0.5) * 1e3;
  f.p99_writing = Percentile(writing, 0.99) * 1e3;
  fs::remove_all(dir);
  return f;
}

double CrcRate() {
  std::vector<char> buffer(size_t{512} << 20, 1);
  std::vector<double> rates;
  for (int r = 0; r < 3; ++r) {
    const auto t = Clock::now();
    volatile uint32_t crc = Crc32(0, buffer.data(), buffer.size());
    (void)crc;
    rates.push_back(double(buffer.size()) / Seconds(t) / 1e9);
  }
  return Median(rates);
}

}  // namespace
}  // namespace vecmirror::bench

int main(int argc, char** argv) {
  using namespace vecmirror::bench;
  CLI::App app{"snapshot write and load vs graph build"};
  std::vector<size_t> sizes{50000, 100000};
  size_t dim = 1536;
  int runs = 5;
  std::string dir = (std::filesystem::temp_directory_path() / "vecmirror-snapshot-bench").string();
  app.add_option("--sizes", sizes, "index sizes (rows)")->delimiter(',');
  app.add_option("--dim", dim, "dimensions");
  app.add_option("--runs", runs, "runs of each write and load (the median is reported)");
  app.add_option("--dir", dir, "snapshot root (removed afterwards)");
  CLI11_PARSE(app, argc, argv);

  std::printf("vecmirror_snapshot_bench --sizes");
  for (size_t i = 0; i < sizes.size(); ++i) std::printf("%s%zu", i ? "," : " ", sizes[i]);
  std::printf(" --dim %zu --runs %d\n", dim, runs);
  std::printf("nproc %u, %s, load average %s\n", std::thread::hardware_concurrency(),
              CpuModel().c_str(), LoadAverage().c_str());
  std::printf("CRC-32 (zlib crc32_z): %.2f GB/s\n", CrcRate());
  std::vector<Figures> all;
  for (size_t n : sizes) {
    std::filesystem::remove_all(dir);
    all.push_back(Run(n, dim, runs, dir));
  }
  std::printf("\n| rows x %zu | HNSW build: wall (CPU) | capture | write (fsync'd) | load, page "
              "cache: wall (CPU) | load, evicted | build / load (wall) | snapshot size | answers "
              "differing |\n",
              dim);
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (const Figures& f : all) {
    std::printf("| %zu | %.1f s (%.1f s) | %.2f ms | %.2f s | %.3f s (%.3f s) | %.3f s | %.0fx | "
                "%.0f MB | %zu of 200 |\n",
                f.n, f.build, f.build_cpu, f.capture * 1e3, f.write, f.load_warm,
                f.load_warm_cpu, f.load_cold, f.build / f.load_warm, double(f.bytes) / 1e6,
                f.mismatches);
  }
  std::printf("load average at the end: %s\n", LoadAverage().c_str());
  std::printf("\n| rows | search p50 idle | p50 while writing | p99 idle | p99 while writing |\n");
  std::printf("|---|---|---|---|---|\n");
  for (const Figures& f : all) {
    std::printf("| %zu | %.3f ms | %.3f ms | %.3f ms | %.3f ms |\n", f.n, f.p50_idle,
                f.p50_writing, f.p99_idle, f.p99_writing);
  }
  return 0;
}
