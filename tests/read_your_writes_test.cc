// Read-your-writes at the WAL page edge, against the real server and PostgreSQL.
//
// When a commit ends exactly on an 8 KB WAL page boundary, pg_current_wal_insert_lsn() reports
// the position after the next page's header (boundary + 24), while the end LSN of the commit the
// mirror applies is the boundary itself. A search that waits for the reported LSN must still be
// answered at once: nothing the stream sends reaches the header's end until later WAL arrives.
// The test forces commits to end on page boundaries by padding each transaction with a logical
// message (which pgoutput does not send) sized so that the commit record fills the page.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/lsn.h"
#include "tests/support/live_mirror.h"
#include "tests/support/mirror_check.h"

namespace vecmirror::testing {
namespace {

constexpr char kModel[] = "all-MiniLM-L6-v2";
constexpr uint32_t kDim = 384;
// A transactional logical message of at least this many bytes has the same record overhead
// as any longer one (the data length no longer fits the short block-data header).
constexpr uint64_t kMinPadBytes = 300;

class ReadYourWritesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(mirror_.Create("ryw").ok());
    ASSERT_TRUE(mirror_.StartServer().ok()) << mirror_.LogTail();
    sql_ = std::make_unique<SqlSession>(mirror_.conninfo());
    ASSERT_TRUE(sql_->connected());
    Status s;
    tenant_ = sql_->Value("INSERT INTO tenant (name) VALUES ('ryw') RETURNING id::text", &s);
    ASSERT_TRUE(s.ok()) << s.ToString();
    entity_ = sql_->Value("SELECT gen_random_uuid()::text");
    ASSERT_TRUE(sql_->Exec("INSERT INTO entity (id, tenant_id, entity_type) VALUES (" + Quote(entity_) +
                           ", " + Quote(tenant_) + ", 'context');"
                           "INSERT INTO embedding (entity_id, model, vector, status) VALUES (" +
                           Quote(entity_) + ", " + Quote(kModel) + ", " + VectorSql(NextVector()) +
                           ", 'completed')")
                    .ok());
  }

  void TearDown() override {
    if (HasFailure()) std::cerr << "server log (tail):\n" << mirror_.LogTail() << "\n";
  }

  std::vector<float> NextVector() { return RandomVector(rng_, kDim); }

  uint64_t InsertLsn() {
    return ParseLsn(sql_->Value("SELECT pg_current_wal_insert_lsn()::text")).value_or(0);
  }

  uint64_t WalSegmentBytes() {
    return std::stoull(sql_->Value("SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'"));
  }

  // Updates the vector in one transaction padded so that, if `tail_guess` (the WAL bytes of the
  // padding message's overhead plus the commit record) is right, the commit record ends on a
  // page boundary. Returns the insert LSN read after the commit and how far the commit ended
  // from that boundary, so the caller can correct its guess.
  struct Round {
    uint64_t lsn_after = 0;
    int64_t miss = 0;  // bytes past the boundary (negative: short of it)
    std::vector<float> vector;
  };
  Round WriteRound(uint64_t tail_guess) {
    Round round;
    round.vector = NextVector();
    EXPECT_TRUE(sql_->Exec("BEGIN; UPDATE embedding SET vector = " + VectorSql(round.vector) +
                           " WHERE entity_id = " + Quote(entity_))
                    .ok());
    uint64_t at = InsertLsn();
    uint64_t to_boundary = kWalPageBytes - at % kWalPageBytes;
    if (to_boundary < tail_guess + kMinPadBytes) {
      // Too close to pad exactly: cross into the next page first.
      Pad(to_boundary + 64);
      at = InsertLsn();
      to_boundary = kWalPageBytes - at % kWalPageBytes;
    }
    const uint64_t boundary = at + to_boundary;
    Pad(to_boundary - tail_guess);
    EXPECT_TRUE(sql_->Exec("COMMIT").ok());
    round.lsn_after = InsertLsn();
    // Past the boundary the insert LSN also counts the next page's header.
    const uint64_t header =
        boundary % wal_segment_bytes_ == 0 ? kWalLongHeaderBytes : kWalShortHeaderBytes;
    const uint64_t end = round.lsn_after >= boundary + header ? round.lsn_after - header : round.lsn_after;
    round.miss = static_cast<int64_t>(end) - static_cast<int64_t>(boundary);
    return round;
  }

  void Pad(uint64_t bytes) {
    EXPECT_TRUE(sql_->Exec("SELECT pg_logical_emit_message(true, 'vmtest-pad', repeat('x', " +
                           std::to_string(bytes) + "))")
                    .ok());
  }

  // Whether a search that waits for nothing shows the round's vector: the mirror has applied
  // the round's commit.
  bool Visible(const Round& round) {
    v1::SearchResponse response;
    const grpc::Status s = ExactSearch(mirror_.stub(), tenant_, kModel, round.vector, 1, 0,
                                       std::chrono::seconds(10), &response);
    return s.ok() && response.results_size() == 1 && response.results(0).entity_id() == entity_ &&
           std::abs(response.results(0).similarity() - 1.0) <= 1e-5;
  }

  // Searches with min_lsn and a 10 s deadline, sent at once as the API sends it after its
  // commit; returns how long the answer took after the commit was applied. The answer must show
  // the round's vector (similarity 1 to itself).
  //
  // The time is counted from the moment a search that waits for nothing first shows the commit
  // (polled meanwhile), or from the answer if that came first: the stream's own latency, which a
  // loaded machine stretches, is not what these tests bound. What they bound is the wait past
  // the commit: a mirror that waited for WAL after it (the page header) would answer only when
  // unrelated WAL or the deadline came.
  std::chrono::duration<double> SearchAfter(const Round& round) {
    using Clock = std::chrono::steady_clock;
    struct Pending {
      grpc::ClientContext context;
      v1::SearchRequest request;
      v1::SearchResponse response;
      grpc::Status status;
      std::mutex mu;
      std::condition_variable cv;
      bool done = false;
      Clock::time_point answered_at;
    } call;
    call.request.set_tenant_id(tenant_);
    call.request.set_model(kModel);
    call.request.mutable_vector()->mutable_values()->Add(round.vector.begin(), round.vector.end());
    call.request.set_limit(1);
    call.request.set_min_lsn(round.lsn_after);
    call.request.mutable_effort()->set_exact(true);
    call.context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    mirror_.stub().async()->SearchSimilarEntities(
        &call.context, &call.request, &call.response, [&call](grpc::Status status) {
          const Clock::time_point now = Clock::now();
          std::lock_guard<std::mutex> lock(call.mu);
          call.status = std::move(status);
          call.answered_at = now;
          call.done = true;
          call.cv.notify_all();
        });

    std::optional<Clock::time_point> visible_at;
    const auto poll_until = Clock::now() + std::chrono::seconds(30);
    while (!visible_at && Clock::now() < poll_until) {
      {
        std::lock_guard<std::mutex> lock(call.mu);
        if (call.done) break;
      }
      if (Visible(round)) {
        visible_at = Clock::now();
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    std::unique_lock<std::mutex> lock(call.mu);
    call.cv.wait(lock, [&call] { return call.done; });  // the call's deadline bounds it
    const Clock::time_point applied_at = visible_at ? std::min(*visible_at, call.answered_at)
                                                    : call.answered_at;
    const grpc::Status& s = call.status;
    EXPECT_TRUE(s.ok()) << "min_lsn " << FormatLsn(round.lsn_after) << ": " << GrpcText(s);
    if (s.ok()) {
      const v1::SearchResponse& response = call.response;
      EXPECT_EQ(response.results_size(), 1);
      if (response.results_size() == 1) {
        EXPECT_EQ(response.results(0).entity_id(), entity_);
        EXPECT_NEAR(response.results(0).similarity(), 1.0, 1e-5) << "the write is not visible";
      }
    }
    return call.answered_at - applied_at;
  }

  LiveMirror mirror_;
  std::unique_ptr<SqlSession> sql_;
  std::mt19937_64 rng_{20261125};
  std::string tenant_;
  std::string entity_;
  uint64_t wal_segment_bytes_ = 16u << 20;
};

// Commits forced onto page boundaries, each searched at once with the LSN the README tells
// callers to read. Every wait ends well under a second after the commit is applied: the
// maximum, not a percentile.
TEST_F(ReadYourWritesTest, ACommitEndingOnAPageBoundaryIsSeenAtOnce) {
  wal_segment_bytes_ = WalSegmentBytes();
  ASSERT_EQ(wal_segment_bytes_ % kWalPageBytes, 0u);
  // The guess is corrected by each round's miss, so one round perturbed by WAL from elsewhere
  // (a running-xacts record, a checkpoint) costs a round or two, not the test.
  uint64_t tail_guess = 128;
  constexpr int kWantedBoundaryRounds = 25;
  constexpr int kMaxAttempts = 200;
  int boundary_rounds = 0;
  std::chrono::duration<double> slowest{0};
  for (int attempt = 0; attempt < kMaxAttempts && boundary_rounds < kWantedBoundaryRounds; ++attempt) {
    const Round round = WriteRound(tail_guess);
    if (std::abs(round.miss) < 256) tail_guess += round.miss;
    const bool on_boundary = round.lsn_after % kWalPageBytes == kWalShortHeaderBytes ||
                             round.lsn_after % kWalPageBytes == kWalLongHeaderBytes;
    const auto took = SearchAfter(round);
    if (HasFailure()) return;
    slowest = std::max(slowest, took);
    if (on_boundary) ++boundary_rounds;
  }
  EXPECT_GE(boundary_rounds, kWantedBoundaryRounds)
      << "the padding did not land commits on page boundaries often enough to test the edge";
  EXPECT_LT(slowest.count(), 1.0) << "a min_lsn wait took " << slowest.count()
                                  << " s past the commit's apply";
}

// Whatever the position, the LSN read after a commit is covered by what the stream applies:
// plain sequential rounds, bounded, each answered well under a second after the commit is
// applied.
TEST_F(ReadYourWritesTest, SequentialWritesAreEachSeenAtOnce) {
  std::chrono::duration<double> slowest{0};
  for (int i = 0; i < 200; ++i) {
    Round round;
    round.vector = NextVector();
    ASSERT_TRUE(sql_->Exec("UPDATE embedding SET vector = " + VectorSql(round.vector) +
                           " WHERE entity_id = " + Quote(entity_))
                    .ok());
    round.lsn_after = InsertLsn();
    slowest = std::max(slowest, SearchAfter(round));
    if (HasFailure()) return;
  }
  EXPECT_LT(slowest.count(), 1.0);
}

}  // namespace
}  // namespace vecmirror::testing
