#include "src/snapshotter.h"

#include <spdlog/spdlog.h>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "base/lsn.h"
#include "index/freed_memory.h"
#include "src/logging/log_fields.h"

namespace vecmirror {
namespace {

uint64_t DirectoryBytes(const std::string& path) {
  std::error_code ec;
  uint64_t bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    if (entry.is_regular_file(ec)) bytes += entry.file_size(ec);
  }
  return bytes;
}

}  // namespace

Snapshotter::Snapshotter(SnapshotOptions options, MirrorStatusBoard& board)
    : options_(std::move(options)), board_(board) {
  board_.Update([&](MirrorState& s) {
    s.snapshots.enabled = enabled();
    s.snapshots.directory = options_.directory;
  });
  if (enabled()) writer_ = std::thread([this] { WriterLoop(); });
}

Snapshotter::~Snapshotter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

// A rebuilt index triggers a snapshot this long after the previous one at the earliest, so that
// a burst of small rebuilds (many tenants' tails) costs one snapshot, not one each.
constexpr std::chrono::seconds kRebuildSnapshotGap{10};

bool Snapshotter::Due(uint64_t applied_lsn, uint64_t changes_applied) const {
  if (!enabled()) return false;
  {
    std::lock_guard lock(mu_);
    if (writing_ || pending_) return false;
  }
  const auto since_last = std::chrono::steady_clock::now() - last_taken_;
  if (rebuilds_.load(std::memory_order_relaxed) != rebuilds_at_last_ &&
      since_last >= std::min<std::chrono::steady_clock::duration>(kRebuildSnapshotGap,
                                                                   options_.interval)) {
    return true;
  }
  if (applied_lsn <= durable_lsn()) return false;
  if (options_.every_changes != 0 && changes_applied - changes_at_last_ >= options_.every_changes) {
    return true;
  }
  return since_last >= options_.interval;
}

bool Snapshotter::HasNews(uint64_t applied_lsn) const {
  return enabled() && (applied_lsn > durable_lsn() ||
                       rebuilds_.load(std::memory_order_relaxed) != rebuilds_at_last_);
}

void Snapshotter::WriteInBackground(SnapshotCut cut, uint64_t changes_applied,
                                    uint64_t rebuilds_before_cut) {
  last_taken_ = std::chrono::steady_clock::now();
  changes_at_last_ = changes_applied;
  rebuilds_at_last_ = rebuilds_before_cut;
  {
    std::lock_guard lock(mu_);
    pending_ = std::move(cut);
  }
  cv_.notify_all();
}

Status Snapshotter::WriteNow(SnapshotCut cut) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !writing_ && !pending_; });
  writing_ = true;
  lock.unlock();
  const Status s = Write(cut);
  lock.lock();
  writing_ = false;
  return s;
}

void Snapshotter::WriterLoop() {
  // Writing yields the cores to applying changes and to searches, as maintenance builds do.
  constexpr int kWriterNice = 10;
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kWriterNice);
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || pending_.has_value(); });
    if (!pending_) return;  // stopping with nothing to write
    std::optional<SnapshotCut> cut = std::move(pending_);
    pending_.reset();
    writing_ = true;
    lock.unlock();
    Write(*cut);
    // The cut's copies (slot tables, tails, the mirror's state) were large and short-lived.
    cut.reset();
    ReturnFreedMemory();
    lock.lock();
    writing_ = false;
    cv_.notify_all();
  }
}

Status Snapshotter::Write(const SnapshotCut& cut) {
  board_.Update([](MirrorState& s) { s.snapshots.writing = true; });
  const auto started = std::chrono::steady_clock::now();
  std::string path;
  SnapshotWriteOptions write_options;
  write_options.keep = options_.keep;
  const Status s = WriteSnapshot(options_.directory, cut, write_options, &path);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!s.ok()) {
    spdlog::error("snapshot at {} failed after {:.1f} s: {}; the previous snapshot stays",
                  FormatLsn(cut.lsn), seconds, s.message());
    board_.Update([](MirrorState& st) {
      st.snapshots.writing = false;
      st.snapshots.failed++;
    });
    return s;
  }
  // Durable now: from here the slot may release the WAL before it.
  if (cut.lsn > durable_lsn()) durable_lsn_.store(cut.lsn, std::memory_order_release);
  const uint64_t bytes = DirectoryBytes(path);
  LogWithFields({{"lsn", FormatLsn(cut.lsn)},
                 {"indexes", cut.indexes.size()},
                 {"bytes", bytes},
                 {"duration_seconds", seconds}},
                spdlog::level::info, "snapshot at {} written to {}: {} indexes, {:.1f} MB in {:.1f} s",
                FormatLsn(cut.lsn), path, cut.indexes.size(), bytes / 1e6, seconds);
  board_.Update([&](MirrorState& st) {
    st.snapshots.writing = false;
    st.snapshots.written++;
    st.snapshots.durable_lsn = durable_lsn();
    st.snapshots.last_write_seconds = seconds;
    st.snapshots.last_bytes = bytes;
    st.snapshots.last_written_at = std::chrono::system_clock::now();
  });
  return s;
}

Status Snapshotter::LoadNewest(const SnapshotSource& source, const IndexOptions& index_options,
                               LoadedSnapshot* out) const {
  std::vector<std::string> rejected;
  const Status s = LoadNewestSnapshot(options_.directory, source, index_options, out, &rejected);
  for (const std::string& why : rejected) spdlog::warn("snapshot not used: {}", why);
  return s;
}

void Snapshotter::set_durable_lsn(uint64_t lsn, uint64_t changes_applied) {
  durable_lsn_.store(lsn, std::memory_order_release);
  last_taken_ = std::chrono::steady_clock::now();
  changes_at_last_ = changes_applied;
  board_.Update([&](MirrorState& st) { st.snapshots.durable_lsn = lsn; });
}

}  // namespace vecmirror
