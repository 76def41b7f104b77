// LsnWaiters: every parked callback runs exactly once, with the first of its LSN applied, its
// deadline passed, or a cancel; and the Registry passes every advance of applied_lsn on to it.
#include "index/lsn_waiters.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "index/registry.h"

namespace vecmirror {
namespace {

using Outcome = LsnWaiters::Outcome;
using Clock = LsnWaiters::Clock;
using std::chrono::milliseconds;

const Clock::time_point kFarAway = Clock::now() + std::chrono::hours(1);

// Records each callback's outcomes, by name, and the order and time of the calls.
class Calls {
 public:
  LsnWaiters::Callback For(int id) {
    return [this, id](Outcome o) {
      const Clock::time_point now = Clock::now();
      std::lock_guard<std::mutex> lock(mu_);
      outcomes_[id].push_back(o);
      order_.push_back(id);
      first_call_.emplace(id, now);
    };
  }
  std::vector<Outcome> Of(int id) {
    std::lock_guard<std::mutex> lock(mu_);
    return outcomes_[id];
  }
  // The ids in the order of their calls.
  std::vector<int> Order() {
    std::lock_guard<std::mutex> lock(mu_);
    return order_;
  }
  // When `id` was first called (the epoch if never).
  Clock::time_point CalledAt(int id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = first_call_.find(id);
    return it == first_call_.end() ? Clock::time_point() : it->second;
  }
  // Waits (bounded) until `id` has been called.
  bool WaitFor(int id, milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (!Of(id).empty()) return true;
      std::this_thread::sleep_for(milliseconds(2));
    }
    return false;
  }

 private:
  std::mutex mu_;
  std::map<int, std::vector<Outcome>> outcomes_;
  std::vector<int> order_;
  std::map<int, Clock::time_point> first_call_;
};

TEST(LsnWaitersTest, AnLsnAppliedAlreadyIsNotParked) {
  Calls calls;  // outlives `waiters`, whose destructor may still call it
  LsnWaiters waiters;
  waiters.SetApplied(100);
  EXPECT_FALSE(waiters.Park(100, kFarAway, calls.For(1)).has_value());
  EXPECT_FALSE(waiters.Park(99, kFarAway, calls.For(2)).has_value());
  EXPECT_TRUE(waiters.Park(101, kFarAway, calls.For(3)).has_value());
  EXPECT_EQ(waiters.size(), 1u);
  EXPECT_TRUE(calls.Of(1).empty());
  EXPECT_TRUE(calls.Of(2).empty());
}

TEST(LsnWaitersTest, SetAppliedWakesExactlyTheWaitersAtOrBelowIt) {
  Calls calls;  // outlives `waiters`, whose destructor may still call it
  LsnWaiters waiters;
  ASSERT_TRUE(waiters.Park(200, kFarAway, calls.For(200)));
  ASSERT_TRUE(waiters.Park(300, kFarAway, calls.For(300)));
  ASSERT_TRUE(waiters.Park(301, kFarAway, calls.For(301)));
  waiters.SetApplied(250);
  EXPECT_EQ(calls.Of(200), std::vector<Outcome>{Outcome::kReached});
  EXPECT_TRUE(calls.Of(300).empty());
  EXPECT_EQ(waiters.size(), 2u);
  waiters.SetApplied(300);
  EXPECT_EQ(calls.Of(300), std::vector<Outcome>{Outcome::kReached});
  EXPECT_TRUE(calls.Of(301).empty());
  waiters.SetApplied(1000);
  EXPECT_EQ(calls.Of(301), std::vector<Outcome>{Outcome::kReached});
  EXPECT_EQ(calls.Of(200).size(), 1u);  // never twice
  EXPECT_EQ(waiters.size(), 0u);
}

TEST(LsnWaitersTest, ADeadlineFiresFromTheTimerAndTheEarliestFirst) {
  Calls calls;  // outlives `waiters`, whose destructor may still call it
  LsnWaiters waiters;
  const auto start = Clock::now();
  ASSERT_TRUE(waiters.Park(500, start + milliseconds(400), calls.For(2)));
  ASSERT_TRUE(waiters.Park(500, start + milliseconds(100), calls.For(1)));  // earlier, parked later
  // Each fires at or after its own deadline, the earlier one first. The times are taken in the
  // callbacks: this thread may wake late, after both have fired.
  ASSERT_TRUE(calls.WaitFor(1, milliseconds(5000)));
  EXPECT_GE(calls.CalledAt(1) - start, milliseconds(100));
  EXPECT_EQ(calls.Of(1), std::vector<Outcome>{Outcome::kDeadline});
  ASSERT_TRUE(calls.WaitFor(2, milliseconds(5000)));
  EXPECT_GE(calls.CalledAt(2) - start, milliseconds(400));
  EXPECT_EQ(calls.Of(2), std::vector<Outcome>{Outcome::kDeadline});
  EXPECT_EQ(calls.Order(), (std::vector<int>{1, 2}));
  EXPECT_EQ(waiters.size(), 0u);
  waiters.SetApplied(500);  // too late: nothing runs again
  EXPECT_EQ(calls.Of(1).size(), 1u);
  EXPECT_EQ(calls.Of(2).size(), 1u);
}

TEST(LsnWaitersTest, CancelRunsTheCallbackAtOnceAndOnlyOnce) {
  Calls calls;  // outlives `waiters`, whose destructor may still call it
  LsnWaiters waiters;
  const auto ticket = waiters.Park(700, kFarAway, calls.For(1));
  ASSERT_TRUE(ticket);
  waiters.Cancel(*ticket);
  EXPECT_EQ(calls.Of(1), std::vector<Outcome>{Outcome::kCancelled});
  EXPECT_EQ(waiters.size(), 0u);
  waiters.Cancel(*ticket);
  waiters.SetApplied(700);
  EXPECT_EQ(calls.Of(1).size(), 1u);

  // Cancelling a ticket whose LSN was reached does nothing.
  const auto reached = waiters.Park(800, kFarAway, calls.For(2));
  ASSERT_TRUE(reached);
  waiters.SetApplied(800);
  waiters.Cancel(*reached);
  EXPECT_EQ(calls.Of(2), std::vector<Outcome>{Outcome::kReached});
}

TEST(LsnWaitersTest, AnLsnMovedBackParksAgainAndDestructionCancelsWhatIsLeft) {
  Calls calls;
  {
    LsnWaiters waiters;
    waiters.SetApplied(500);
    waiters.SetApplied(100);  // a fresh initial load restarts the watermark
    ASSERT_TRUE(waiters.Park(300, kFarAway, calls.For(1)));
    ASSERT_TRUE(waiters.Park(600, kFarAway, calls.For(2)));
    waiters.SetApplied(300);
    EXPECT_EQ(calls.Of(1), std::vector<Outcome>{Outcome::kReached});
  }
  EXPECT_EQ(calls.Of(2), std::vector<Outcome>{Outcome::kCancelled});
}

TEST(LsnWaitersTest, ACallbackMayParkAgain) {
  Calls calls;  // outlives `waiters`, whose destructor may still call it
  LsnWaiters waiters;
  ASSERT_TRUE(waiters.Park(10, kFarAway, [&](Outcome) {
    // Called outside the lock: parking from the callback must not deadlock.
    EXPECT_TRUE(waiters.Park(20, kFarAway, calls.For(2)).has_value());
  }));
  waiters.SetApplied(10);
  EXPECT_EQ(waiters.size(), 1u);
  waiters.SetApplied(20);
  EXPECT_EQ(calls.Of(2), std::vector<Outcome>{Outcome::kReached});
}

// Parks, cancels, deadlines and advances from several threads at once: every callback runs
// exactly once, and nothing is left parked once the LSN passes every waiter.
TEST(LsnWaitersTest, ConcurrentParksCancelsAndAdvancesRunEachCallbackOnce) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 3000;
  constexpr uint64_t kMaxLsn = 5000;
  std::vector<std::atomic<int>> runs(kThreads * kPerThread);
  for (auto& r : runs) r = 0;
  auto owned = std::make_unique<LsnWaiters>();
  LsnWaiters& waiters = *owned;
  std::atomic<bool> parking{true};

  std::thread advancer([&] {
    uint64_t lsn = 0;
    while (parking.load() && lsn < kMaxLsn / 2) {
      waiters.SetApplied(++lsn);
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kPerThread; ++i) {
        const int id = t * kPerThread + i;
        const uint64_t lsn = 1 + rng() % kMaxLsn;
        const auto deadline = Clock::now() + milliseconds(rng() % 3 == 0 ? rng() % 20 : 60000);
        auto ticket = waiters.Park(lsn, deadline, [&runs, id](Outcome) { ++runs[id]; });
        if (!ticket) {
          ++runs[id];  // not parked: the caller goes on, as if called
          continue;
        }
        if (rng() % 4 == 0) waiters.Cancel(*ticket);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  parking = false;
  advancer.join();
  waiters.SetApplied(kMaxLsn);
  EXPECT_EQ(waiters.size(), 0u);
  owned.reset();  // joins the timer thread: no callback is still running
  int wrong = 0;
  for (auto& r : runs) wrong += r.load() != 1;
  EXPECT_EQ(wrong, 0);
}

TEST(LsnWaitersTest, TheRegistryWakesWaitersWhenItAppliesOrAdvances) {
  Calls calls;
  Registry registry;
  ASSERT_TRUE(registry.lsn_waiters().Park(0x100, kFarAway, calls.For(1)));
  ASSERT_TRUE(registry.lsn_waiters().Park(0x200, kFarAway, calls.For(2)));
  ASSERT_TRUE(registry.lsn_waiters().Park(0x300, kFarAway, calls.For(3)));
  registry.ApplyTransaction({}, 0x100);
  EXPECT_EQ(calls.Of(1), std::vector<Outcome>{Outcome::kReached});
  EXPECT_TRUE(calls.Of(2).empty());
  registry.AdvanceLsn(0x250);
  EXPECT_EQ(calls.Of(2), std::vector<Outcome>{Outcome::kReached});
  registry.Reset(0x300);
  EXPECT_EQ(calls.Of(3), std::vector<Outcome>{Outcome::kReached});
  EXPECT_EQ(registry.lsn_waiters().size(), 0u);
}

}  // namespace
}  // namespace vecmirror
