// The serving bounds on their own: WorkerPool's queue bound and its run slots (callers' claims
// included), and Admission's request budget and parked-call bound, each refusing one past the
// bound and not at it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "src/admission.h"
#include "src/worker_pool.h"

namespace vecmirror {
namespace {

// A gate that tasks wait at until the test opens it.
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return open_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

bool WaitUntil(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

TEST(WorkerPoolTest, RefusesPastTheQueueBoundAndRunsEverythingAdmitted) {
  Gate gate;
  std::atomic<int> ran{0};
  {
    WorkerPool pool(2, 3, "test-pool");
    EXPECT_EQ(pool.threads(), 2);
    auto task = [&] {
      gate.Wait();
      ++ran;
    };
    ASSERT_TRUE(pool.TrySubmit(task));
    ASSERT_TRUE(pool.TrySubmit(task));
    ASSERT_TRUE(WaitUntil([&] { return pool.running() == 2; }));
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(pool.TrySubmit(task)) << i;  // at the bound
    EXPECT_EQ(pool.queued(), 3u);
    EXPECT_FALSE(pool.TrySubmit(task));  // one past it
    pool.Submit(task);                   // admitted earlier: past the bound
    EXPECT_EQ(pool.queued(), 4u);
    gate.Open();
    ASSERT_TRUE(WaitUntil([&] { return ran.load() == 6; }));
    EXPECT_EQ(pool.queued(), 0u);
  }
  EXPECT_EQ(ran.load(), 6);
}

// A slot claimed by a caller counts against the threads: with one claimed of two, one pool
// task runs and the next waits, until the caller releases its slot.
TEST(WorkerPoolTest, AClaimedSlotCountsAgainstTheThreadsAndOvertakesNothing) {
  Gate gate;
  std::atomic<int> ran{0};
  {
    WorkerPool pool(2, 10, "test-pool", /*max_claimed=*/1);
    ASSERT_TRUE(pool.TryClaimSlot());
    EXPECT_EQ(pool.running(), 1u);
    EXPECT_FALSE(pool.TryClaimSlot());  // one past max_claimed, with a slot free
    auto task = [&] {
      gate.Wait();
      ++ran;
    };
    ASSERT_TRUE(pool.TrySubmit(task));
    ASSERT_TRUE(pool.TrySubmit(task));
    ASSERT_TRUE(WaitUntil([&] { return pool.running() == 2 && pool.queued() == 1; }));
    // Held for a while: the second pool thread stays idle, the bound of 2 running holds.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(pool.running(), 2u);
    EXPECT_EQ(pool.queued(), 1u);
    pool.ReleaseSlot();
    ASSERT_TRUE(WaitUntil([&] { return pool.running() == 2 && pool.queued() == 0; }));
    // Every slot runs a pool task: no claim, even within max_claimed.
    EXPECT_FALSE(pool.TryClaimSlot());
    gate.Open();
    ASSERT_TRUE(WaitUntil([&] { return ran.load() == 2 && pool.running() == 0; }));
    ASSERT_TRUE(pool.TryClaimSlot());  // free again
    pool.ReleaseSlot();
  }
  EXPECT_EQ(ran.load(), 2);
}

// A caller never claims a slot ahead of a queued task, and max_claimed 0 never claims.
TEST(WorkerPoolTest, NoClaimWhileTasksAreQueuedOrWhenClaimsAreOff) {
  Gate gate;
  {
    WorkerPool pool(2, 10, "test-pool", /*max_claimed=*/2);
    auto task = [&] { gate.Wait(); };
    ASSERT_TRUE(pool.TryClaimSlot());
    ASSERT_TRUE(pool.TryClaimSlot());
    EXPECT_FALSE(pool.TryClaimSlot());  // one past the thread count
    ASSERT_TRUE(pool.TrySubmit(task));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(pool.queued(), 1u);  // both slots are the callers'
    pool.ReleaseSlot();
    ASSERT_TRUE(WaitUntil([&] { return pool.queued() == 0 && pool.running() == 2; }));
    pool.ReleaseSlot();
    ASSERT_TRUE(pool.TrySubmit(task));
    ASSERT_TRUE(WaitUntil([&] { return pool.running() == 2; }));
    ASSERT_TRUE(pool.TrySubmit(task));
    EXPECT_EQ(pool.queued(), 1u);
    EXPECT_FALSE(pool.TryClaimSlot());  // a task is queued: it goes first
    gate.Open();
    ASSERT_TRUE(WaitUntil([&] { return pool.queued() == 0 && pool.running() == 0; }));
    EXPECT_TRUE(pool.TryClaimSlot());
    pool.ReleaseSlot();
  }
  WorkerPool off(2, 10, "test-pool", /*max_claimed=*/0);
  EXPECT_FALSE(off.TryClaimSlot());
}

TEST(WorkerPoolTest, DestructionRunsWhatIsStillQueued) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool(1, 100, "test-pool");
    for (int i = 0; i < 50; ++i) {
      pool.Submit([&] {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
        ++ran;
      });
    }
  }
  EXPECT_EQ(ran.load(), 50);
}

TEST(AdmissionTest, TheRequestBudgetRefusesOnePastItAndNamesTheFlag) {
  Admission admission(AdmissionLimits{.max_queued = 8, .max_waiting = 2, .max_inflight_request_bytes = 1000});
  Status s = admission.ReserveRequestBytes(1001);
  EXPECT_EQ(s.code(), Status::Code::kResourceExhausted);
  EXPECT_NE(s.message().find("request is 1001 bytes"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--max-inflight-request-bytes"), std::string::npos) << s.message();

  ASSERT_TRUE(admission.ReserveRequestBytes(600).ok());
  ASSERT_TRUE(admission.ReserveRequestBytes(400).ok());  // exactly at the budget
  EXPECT_FALSE(admission.HasRequestBytesRoom());
  s = admission.ReserveRequestBytes(1);
  EXPECT_EQ(s.code(), Status::Code::kResourceExhausted);
  EXPECT_NE(s.message().find("hold 1000 of the server's 1000-byte request budget"), std::string::npos)
      << s.message();
  admission.ReleaseRequestBytes(400);
  EXPECT_TRUE(admission.HasRequestBytesRoom());
  EXPECT_TRUE(admission.ReserveRequestBytes(400).ok());
  EXPECT_EQ(admission.Counters().refused_request_bytes, 2u);
  EXPECT_EQ(admission.Counters().inflight_request_bytes, 1000u);
}

TEST(AdmissionTest, ParkedCallsAndTheQueueRefusalNameTheirBounds) {
  Admission admission(AdmissionLimits{.max_queued = 8, .max_waiting = 2, .max_inflight_request_bytes = 1000});
  ASSERT_TRUE(admission.ReserveWaiter().ok());
  ASSERT_TRUE(admission.ReserveWaiter().ok());
  Status s = admission.ReserveWaiter();
  EXPECT_EQ(s.code(), Status::Code::kResourceExhausted);
  EXPECT_NE(s.message().find("--max-waiting-searches 2"), std::string::npos) << s.message();
  admission.ReleaseWaiter();
  EXPECT_TRUE(admission.ReserveWaiter().ok());

  s = admission.QueueFull();
  EXPECT_EQ(s.code(), Status::Code::kResourceExhausted);
  EXPECT_NE(s.message().find("--max-queued-searches 8"), std::string::npos) << s.message();
  const AdmissionCounters c = admission.Counters();
  EXPECT_EQ(c.waiting, 2u);
  EXPECT_EQ(c.refused_waiting_full, 1u);
  EXPECT_EQ(c.refused_queue_full, 1u);
}

// Many threads reserving and releasing at once never hold more than the budget.
TEST(AdmissionTest, ConcurrentReservationsStayWithinTheBudget) {
  Admission admission(AdmissionLimits{.max_queued = 8, .max_waiting = 8, .max_inflight_request_bytes = 1000});
  std::atomic<size_t> held{0};
  std::atomic<size_t> most{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        if (!admission.ReserveRequestBytes(300).ok()) continue;
        const size_t now = held.fetch_add(300) + 300;
        size_t seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        held.fetch_sub(300);
        admission.ReleaseRequestBytes(300);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_LE(most.load(), 900u);
  EXPECT_EQ(admission.Counters().inflight_request_bytes, 0u);
}

}  // namespace
}  // namespace vecmirror
