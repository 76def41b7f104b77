// The serving model (issue 9) over a real gRPC channel to the in-process server: more clients
// than worker threads are queued, not refused; searches waiting for min_lsn hold no thread and
// leave the rest of the API served; a cancelled call stops costing anything at once; and each
// serving bound (queue depth, in-flight request bytes, a batch's result rows, the message size)
// refuses one past it, with a message that names it, and not one at it.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "tests/support/service_test_fixture.h"
#include "tools/cli/health_check.h"

namespace vecmirror::service_test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// Calls started through the callback client API, and a wait for all of them to finish.
class InFlight {
 public:
  struct Call {
    grpc::ClientContext context;
    v1::SearchRequest request;
    v1::SearchResponse response;
    grpc::Status status;
    bool done = false;
  };

  // Starts a search with `timeout` as its deadline.
  Call* Start(v1::VectorSearch::Stub& stub, v1::SearchRequest request, milliseconds timeout) {
    auto call = std::make_unique<Call>();
    Call* raw = call.get();
    raw->request = std::move(request);
    raw->context.set_deadline(std::chrono::system_clock::now() + timeout);
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back(std::move(call));
    }
    stub.async()->SearchSimilarEntities(&raw->context, &raw->request, &raw->response,
                                        [this, raw](grpc::Status status) {
                                          std::lock_guard<std::mutex> lock(mu_);
                                          raw->status = std::move(status);
                                          raw->done = true;
                                          cv_.notify_all();
                                        });
    return raw;
  }

  // Waits (bounded) until every call started has finished.
  bool WaitAll(milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] {
      for (const auto& c : calls_) {
        if (!c->done) return false;
      }
      return true;
    });
  }

  // Only after WaitAll.
  const std::vector<std::unique_ptr<Call>>& calls() const { return calls_; }

  ~InFlight() {
    for (const auto& c : calls_) c->context.TryCancel();
    WaitAll(seconds(30));
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Call>> calls_;
};

v1::ServingStatus Serving(TestWorld& world) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(10));
  v1::MirrorStatus status;
  const grpc::Status s = world.stub->GetMirrorStatus(&context, v1::GetMirrorStatusRequest(), &status);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return status.serving();
}

// Polls GetMirrorStatus (bounded) until `condition` holds for its serving part.
bool WaitForServing(TestWorld& world, const std::function<bool(const v1::ServingStatus&)>& condition,
                    milliseconds timeout = milliseconds(10000)) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition(Serving(world))) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return false;
}

// Polls the service's counters (bounded) until `condition` holds: for the parts GetMirrorStatus
// does not show, such as how many of the running searches hold a gRPC thread.
bool WaitForCounters(TestWorld& world, const std::function<bool(const ServingCounters&)>& condition,
                     milliseconds timeout = milliseconds(10000)) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition(world.service->Counters())) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return condition(world.service->Counters());
}

// `running` searches on pool workers, none in a gRPC thread and none queued. A search that
// finds its index held passes through a handler's slot (counted as running) and the queue on
// its way to a worker; waiting for this state, not for the count alone, keeps the next call
// from arriving while the previous one is still on that way.
bool OnWorkers(const ServingCounters& c, size_t running) {
  return c.searches_running == running && c.searches_running_in_handler == 0 && c.searches_queued == 0;
}

// The deadline of the calls that must expire while they wait: long enough that a loaded machine
// still delivers them to the server before it passes, and the margin after it by which the
// server has cancelled them (its deadline runs from the call's arrival, a little later).
constexpr milliseconds kExpiringTimeout(2000);
constexpr milliseconds kExpiryMargin(500);

// The write lock of one index: while a test holds it, every search of that index waits inside
// its worker (as it would behind a long apply), which fills the worker pool deterministically.
std::unique_lock<std::shared_mutex> HoldIndex(TestWorld& world, const Uuid& tenant,
                                              const std::string& model) {
  const auto index = world.registry.Find(IndexKey{tenant, model, *world.models.DimensionOf(model)});
  EXPECT_NE(index, nullptr);
  return index->LockForWrite();
}

// searches_in_handler: 0 (every search through the queue), 1, or -1 (every slot, the default).
class ServiceServingClientsTest : public ::testing::TestWithParam<int> {};

TEST_P(ServiceServingClientsTest, SixtyFourClientsOnTwoWorkersAreAllAnsweredCorrectly) {
  SearchServiceOptions options;
  options.search_threads = 2;  // as on the 2-core machine, whatever this one has
  options.searches_in_handler = GetParam();
  TestWorld world(options);
  const Uuid tenant = world.tenant_a;
  std::vector<v1::SearchRequest> requests;
  std::vector<std::vector<Expected>> expected;
  for (int q = 0; q < 8; ++q) {
    const std::vector<float> query = world.QueryNear(world.AnyRow(tenant, kSmall));
    requests.push_back(VectorRequest(tenant, kSmall, query, 10));
    expected.push_back(BruteForce(world.RowsOf(tenant, kSmall), {query, {}, 10, {}, {}}));
  }

  // 64 clients over 8 connections, 15 searches each, all at once.
  constexpr int kClients = 64;
  constexpr int kCallsPerClient = 15;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::VectorSearch::Stub>> stubs;
  for (int c = 0; c < 8; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("vecmirror.test.connection", c);  // a connection of its own per channel
    channels.push_back(grpc::CreateCustomChannel(world.address(), grpc::InsecureChannelCredentials(), args));
    stubs.push_back(v1::VectorSearch::NewStub(channels.back()));
  }
  std::atomic<int> ok{0}, errors{0}, wrong{0};
  std::mutex first_error_mu;
  std::string first_error;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < kCallsPerClient; ++i) {
        const size_t q = (c + i) % requests.size();
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + seconds(60));
        v1::SearchResponse response;
        const grpc::Status s = stubs[c % stubs.size()]->SearchSimilarEntities(&context, requests[q], &response);
        if (!s.ok()) {
          ++errors;
          std::lock_guard<std::mutex> lock(first_error_mu);
          if (first_error.empty()) first_error = std::to_string(s.error_code()) + " " + s.error_message();
          continue;
        }
        ++ok;
        bool same = response.results_size() == static_cast<int>(expected[q].size());
        for (int r = 0; same && r < response.results_size(); ++r) {
          same = response.results(r).entity_id() == expected[q][r].entity_id;
        }
        if (!same) ++wrong;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(errors.load(), 0) << "first error: " << first_error;
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(ok.load(), kClients * kCallsPerClient);
  // A worker (or a handler) gives its slot back only after it has sent its answer, so the last
  // client may see its answer a moment before searches_running drops: wait for it to drain.
  EXPECT_TRUE(WaitForServing(world, [](const v1::ServingStatus& s) { return s.searches_running() == 0; }))
      << "searches_running stays at " << Serving(world).searches_running();
  const v1::ServingStatus serving = Serving(world);
  EXPECT_EQ(serving.worker_threads(), 2u);
  EXPECT_EQ(serving.refused_queue_full(), 0u);
  const uint64_t in_handler = world.service->Counters().admission.run_in_handler;
  if (GetParam() == 0) {
    EXPECT_EQ(in_handler, 0u);
  } else {
    EXPECT_GT(in_handler, 0u);  // at least the first search found a slot free
  }
}

INSTANTIATE_TEST_SUITE_P(SearchesInHandler, ServiceServingClientsTest, ::testing::Values(0, 1, -1));

// A search may run in the gRPC thread that received it (searches_in_handler, every slot by
// default), but never waits there for a writer: with its index held, each search moves to the
// queue instead, two run (blocked) on the two workers and the third waits, and the server keeps
// reading and answering other calls meanwhile, with no gRPC thread held. The first search,
// whose deadline passes while it waits, ends DEADLINE_EXCEEDED; the others answer exactly as
// the brute force does; and once the index is free, searches run in their handler again.
TEST(ServiceServingTest, ASearchInItsHandlerNeverWaitsForAWriterAndOthersAreStillServed) {
  SearchServiceOptions options;
  options.search_threads = 2;
  TestWorld world(options);
  const Uuid tenant = world.tenant_a;
  const std::vector<float> query = world.QueryNear(world.AnyRow(tenant, kMiniLm));
  const std::vector<Expected> expected = BruteForce(world.RowsOf(tenant, kMiniLm), {query, {}, 10, {}, {}});
  auto counters = [&] { return world.service->Counters(); };
  auto wait_counters = [&](const std::function<bool(const ServingCounters&)>& condition) {
    return WaitForCounters(world, condition);
  };

  // Free: the search runs in its handler.
  {
    v1::SearchResponse response;
    const grpc::Status s = world.Search(VectorRequest(tenant, kMiniLm, query, 10), &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ExpectSameResults(response, expected);
    EXPECT_EQ(counters().admission.run_in_handler, 1u);
    EXPECT_EQ(counters().admission.handler_found_locked, 0u);
  }

  InFlight calls;
  InFlight::Call* expiring = nullptr;
  std::vector<InFlight::Call*> answered;
  {
    auto held = HoldIndex(world, tenant, kMiniLm);
    expiring = calls.Start(*world.stub, VectorRequest(tenant, kMiniLm, query, 10), kExpiringTimeout);
    ASSERT_TRUE(wait_counters([](const ServingCounters& c) { return OnWorkers(c, 1); }));
    const auto expired_by = Clock::now() + kExpiringTimeout + kExpiryMargin;
    answered.push_back(calls.Start(*world.stub, VectorRequest(tenant, kMiniLm, query, 10), milliseconds(60000)));
    ASSERT_TRUE(wait_counters([](const ServingCounters& c) { return OnWorkers(c, 2); }));
    answered.push_back(calls.Start(*world.stub, VectorRequest(tenant, kMiniLm, query, 10), milliseconds(60000)));
    ASSERT_TRUE(wait_counters([](const ServingCounters& c) { return c.searches_queued == 1; }));
    // Past the first call's deadline: the server answers other calls, no search holds a gRPC
    // thread, and never more than two searches run.
    std::this_thread::sleep_until(expired_by);
    const v1::ServingStatus serving = Serving(world);
    EXPECT_EQ(serving.searches_running(), 2u);
    EXPECT_EQ(serving.searches_queued(), 1u);
    EXPECT_EQ(serving.refused_queue_full(), 0u);
    const ServingCounters c = counters();
    EXPECT_EQ(c.searches_running_in_handler, 0u);
    EXPECT_EQ(c.admission.run_in_handler, 1u);
    // The first two found a slot free and the index held; the third found no slot.
    EXPECT_EQ(c.admission.handler_found_locked, 2u);
  }
  ASSERT_TRUE(calls.WaitAll(milliseconds(20000)));
  EXPECT_EQ(expiring->status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  for (InFlight::Call* call : answered) {
    ASSERT_TRUE(call->status.ok()) << call->status.error_message();
    ExpectSameResults(call->response, expected);
  }
  ASSERT_TRUE(wait_counters([](const ServingCounters& c) {
    return c.searches_running == 0 && c.searches_queued == 0;
  }));
  // Free again: back in the handler.
  v1::SearchResponse response;
  const grpc::Status s = world.Search(VectorRequest(tenant, kMiniLm, query, 10), &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ExpectSameResults(response, expected);
  EXPECT_EQ(counters().admission.run_in_handler, 2u);
}

// With searches_in_handler 0 every search goes through the queue, as before.
TEST(ServiceServingTest, NoSearchRunsInItsHandlerWhenThatIsOff) {
  SearchServiceOptions options;
  options.search_threads = 2;
  options.searches_in_handler = 0;
  TestWorld world(options);
  const Uuid tenant = world.tenant_a;
  const std::vector<float> query = world.QueryNear(world.AnyRow(tenant, kMiniLm));
  const std::vector<Expected> expected = BruteForce(world.RowsOf(tenant, kMiniLm), {query, {}, 10, {}, {}});
  for (int i = 0; i < 5; ++i) {
    v1::SearchResponse response;
    const grpc::Status s = world.Search(VectorRequest(tenant, kMiniLm, query, 10), &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ExpectSameResults(response, expected);
  }
  EXPECT_EQ(world.service->Counters().admission.run_in_handler, 0u);
}

TEST(ServiceServingTest, TwoHundredWaitingSearchesHoldNoThreadAndResumeWhenTheLsnIsApplied) {
  SearchServiceOptions options;
  options.search_threads = 2;
  TestWorld world(options);
  const Uuid tenant = world.RandomUuid();
  world.Upsert(tenant, kMiniLm, {{world.RandomUuid(), "context", Normalized(world.RandomVector(kMiniLmDim))}},
               world.NextLsn());
  const Row written{world.RandomUuid(), "template", Normalized(world.RandomVector(kMiniLmDim))};
  const uint64_t commit_lsn = world.NextLsn();

  constexpr int kWaiting = 200;
  InFlight waiting;
  for (int i = 0; i < kWaiting; ++i) {
    v1::SearchRequest request = VectorRequest(tenant, kMiniLm, written.vector, 5);
    request.set_min_lsn(commit_lsn);
    waiting.Start(*world.stub, std::move(request), milliseconds(60000));
  }
  ASSERT_TRUE(WaitForServing(world, [](const v1::ServingStatus& s) {
    return s.searches_waiting_for_lsn() == kWaiting;
  })) << "waiting: " << Serving(world).searches_waiting_for_lsn();

  // Meanwhile, plain searches from 8 clients and GetMirrorStatus are answered, and correctly.
  const Uuid other = world.tenant_b;
  const std::vector<float> query = world.QueryNear(world.AnyRow(other, kSmall));
  const std::vector<Expected> expected = BruteForce(world.RowsOf(other, kSmall), {query, {}, 10, {}, {}});
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        v1::SearchResponse response;
        const grpc::Status s = world.Search(VectorRequest(other, kSmall, query, 10), &response, seconds(20));
        if (!s.ok() || response.results_size() != static_cast<int>(expected.size()) ||
            response.results(0).entity_id() != expected[0].entity_id) {
          ++failures;
        }
        if (Serving(world).searches_waiting_for_lsn() != kWaiting) ++failures;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0);

  // The commit arrives: every waiting search resumes and reads its write.
  world.Upsert(tenant, kMiniLm, {written}, commit_lsn);
  ASSERT_TRUE(waiting.WaitAll(milliseconds(30000)));
  int answered = 0;
  for (const auto& call : waiting.calls()) {
    EXPECT_TRUE(call->status.ok()) << call->status.error_message();
    EXPECT_GE(call->response.applied_lsn(), commit_lsn);
    if (call->response.results_size() > 0 && call->response.results(0).entity_id() == written.id.ToString()) {
      ++answered;
    }
  }
  EXPECT_EQ(answered, kWaiting);
  EXPECT_EQ(Serving(world).searches_waiting_for_lsn(), 0u);
}

TEST(ServiceServingTest, ACancelledWaitIsReleasedAtOnce) {
  TestWorld world;
  const Uuid tenant = world.tenant_a;
  const uint64_t never = world.registry.applied_lsn() + (uint64_t{7} << 32);
  const std::vector<float> query = world.QueryNear(world.AnyRow(tenant, kMiniLm));
  const uint64_t cancelled_before = Serving(world).cancelled_before_run();

  constexpr int kWaiting = 20;
  InFlight waiting;
  std::vector<InFlight::Call*> calls;
  for (int i = 0; i < kWaiting; ++i) {
    v1::SearchRequest request = VectorRequest(tenant, kMiniLm, query, 10);
    request.set_min_lsn(never);
    calls.push_back(waiting.Start(*world.stub, std::move(request), milliseconds(120000)));
  }
  ASSERT_TRUE(WaitForServing(world, [](const v1::ServingStatus& s) {
    return s.searches_waiting_for_lsn() == kWaiting;
  }));

  const auto cancelled_at = Clock::now();
  for (InFlight::Call* call : calls) call->context.TryCancel();
  // Released long before the calls' 120 s deadline: the server saw each cancellation.
  ASSERT_TRUE(WaitForServing(world, [](const v1::ServingStatus& s) {
    return s.searches_waiting_for_lsn() == 0 && s.inflight_request_bytes() == 0;
  }, milliseconds(5000)));
  EXPECT_LT(Clock::now() - cancelled_at, seconds(5));
  EXPECT_EQ(Serving(world).cancelled_before_run(), cancelled_before + kWaiting);
  ASSERT_TRUE(waiting.WaitAll(milliseconds(5000)));
  for (const auto& call : waiting.calls()) {
    EXPECT_EQ(call->status.error_code(), grpc::StatusCode::CANCELLED);
  }
}

TEST(ServiceServingTest, AQueuedCallPastItsDeadlineIsDroppedWithoutRunning) {
  SearchServiceOptions options;
  options.search_threads = 1;
  TestWorld world(options);
  const Uuid tenant = world.tenant_a;
  const std::vector<float> query = world.QueryNear(world.AnyRow(tenant, kMiniLm));
  const uint64_t cancelled_before = Serving(world).cancelled_before_run();

  InFlight calls;
  InFlight::Call* first = nullptr;
  InFlight::Call* expiring = nullptr;
  {
    auto held = HoldIndex(world, tenant, kMiniLm);
    first = calls.Start(*world.stub, VectorRequest(tenant, kMiniLm, query, 10), milliseconds(60000));
    // On the worker, so that `expiring` queues behind it rather than ahead of it.
    ASSERT_TRUE(WaitForCounters(world, [](const ServingCounters& c) { return OnWorkers(c, 1); }));
    expiring = calls.Start(*world.stub, VectorRequest(tenant, kMiniLm, query, 10), kExpiringTimeout);
    ASSERT_TRUE(WaitForServing(world, [](const v1::ServingStatus& s) { return s.searches_queued() == 1; }));
    // Past `expiring`'s deadline, as the server counts it from the call's arrival (before it was
    // seen queued), and still queued.
    std::this_thread::sleep_until(Clock::now() + kExpiringTimeout + kExpiryMargin);
  }
  ASSERT_TRUE(calls.WaitAll(milliseconds(20000)));
  EXPECT_TRUE(first->status.ok()) << first->status.error_message();
  EXPECT_EQ(expiring->status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_TRUE(WaitForServing(world, [&](const v1::ServingStatus& s) {
    return s.cancelled_before_run() == cancelled_before + 1 && s.searches_queued() == 0;
  }));
}

TEST(ServiceServingTest, AQueuePastItsBoundIsRefusedNamingTheBoundAndHealthFollows) {
  SearchServiceOptions options;
  options.search_threads = 1;
  options.max_queued_searches = 4;
  TestWorld world(options);
  world.server->WatchReadiness([&] { return world.board.loaded() && world.service->AcceptingWork(); });
  auto health = [&] {
    cli::ServingStatus serving = cli::ServingStatus::kUnknown;
    EXPECT_TRUE(cli::CheckHealth(world.channel, "", seconds(10), &serving).ok());
    return serving;
  };
  auto wait_health = [&](cli::ServingStatus want) {
    const auto deadline = Clock::now() + seconds(10);
    while (Clock::now() < deadline && health() != want) std::this_thread::sleep_for(milliseconds(20));
    return health() == want;
  };
  ASSERT_TRUE(wait_health(cli::ServingStatus::kServing));
  // Not loaded (a fresh initial load) is NOT_SERVING too, and back.
  world.board.Update([](MirrorState& s) { s.loaded = false; });
  EXPECT_TRUE(wait_health(cli::ServingStatus::kNotServing));
  world.board.Update([](MirrorState& s) { s.loaded = true; });
  ASSERT_TRUE(wait_health(cli::ServingStatus::kServing));

  const Uuid tenant = world.tenant_a;
  const std::vector<float> query = world.QueryNear(world.AnyRow(tenant, kMiniLm));
  const std::vector<Expected> expected = BruteForce(world.RowsOf(tenant, kMiniLm), {query, {}, 10, {}, {}});
  InFlight calls;
  {
    auto held = HoldIndex(world, tenant, kMiniLm);
    calls.Start(*world.stub, VectorRequest(tenant, kMiniLm, query, 10), milliseconds(60000));
    // On the worker: on its way there it passes through the queue, where it would take a place.
    ASSERT_TRUE(WaitForCounters(world, [](const ServingCounters& c) { return OnWorkers(c, 1); }));
    // Exactly at the bound: all four are queued, none refused.
    for (int i = 0; i < 4; ++i) {
      calls.Start(*world.stub, VectorRequest(tenant, kMiniLm, query, 10), milliseconds(60000));
    }
    ASSERT_TRUE(WaitForServing(world, [](const v1::ServingStatus& s) { return s.searches_queued() == 4; }));
    EXPECT_EQ(Serving(world).refused_queue_full(), 0u);
    EXPECT_TRUE(wait_health(cli::ServingStatus::kNotServing));

    // One past it.
    v1::SearchResponse response;
    const grpc::Status refused = world.Search(VectorRequest(tenant, kMiniLm, query, 10), &response);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_NE(refused.error_message().find("--max-queued-searches 4"), std::string::npos)
        << refused.error_message();
    EXPECT_EQ(Serving(world).refused_queue_full(), 1u);
  }
  ASSERT_TRUE(calls.WaitAll(milliseconds(20000)));
  for (const auto& call : calls.calls()) {
    ASSERT_TRUE(call->status.ok()) << call->status.error_message();
    ExpectSameResults(call->response, expected);
  }
  EXPECT_TRUE(wait_health(cli::ServingStatus::kServing));
}

TEST(ServiceServingTest, WaitsPastTheirBoundAreRefusedNamingItAndOthersStillServed) {
  SearchServiceOptions options;
  options.max_waiting_searches = 3;
  TestWorld world(options);
  const Uuid tenant = world.tenant_a;
  const std::vector<float> query = world.QueryNear(world.AnyRow(tenant, kMiniLm));
  const uint64_t never = world.registry.applied_lsn() + (uint64_t{7} << 32);
  v1::SearchRequest waiting_request = VectorRequest(tenant, kMiniLm, query, 10);
  waiting_request.set_min_lsn(never);

  InFlight waiting;
  for (int i = 0; i < 3; ++i) waiting.Start(*world.stub, waiting_request, milliseconds(60000));
  ASSERT_TRUE(WaitForServing(world, [](const v1::ServingStatus& s) { return s.searches_waiting_for_lsn() == 3; }));
  v1::SearchResponse response;
  const grpc::Status refused = world.Search(waiting_request, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("--max-waiting-searches 3"), std::string::npos)
      << refused.error_message();
  // A search that needs no wait is not held to that bound.
  const grpc::Status plain = world.Search(VectorRequest(tenant, kMiniLm, query, 10), &response);
  EXPECT_TRUE(plain.ok()) << plain.error_message();
  ExpectSameResults(response, BruteForce(world.RowsOf(tenant, kMiniLm), {query, {}, 10, {}, {}}));
  EXPECT_EQ(Serving(world).refused_waiting_full(), 1u);
}

// A valid request made large by entity type names (unknown names match nothing).
v1::SearchRequest PaddedRequest(TestWorld& world, size_t bytes, uint64_t min_lsn = 0) {
  v1::SearchRequest request =
      VectorRequest(world.tenant_a, kMiniLm, world.QueryNear(world.AnyRow(world.tenant_a, kMiniLm)), 10);
  request.set_min_lsn(min_lsn);
  while (request.ByteSizeLong() + 1000 < bytes) request.add_entity_types(std::string(990, 'p'));
  return request;
}

TEST(ServiceServingTest, RequestsPastTheInflightByteBudgetAreRefusedNamingIt) {
  SearchServiceOptions options;
  options.max_inflight_request_bytes = 64 << 10;
  TestWorld world(options);

  // One request larger than the whole budget.
  v1::SearchResponse response;
  grpc::Status s = world.Search(PaddedRequest(world, 80 << 10), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(s.error_message().find("in-flight request budget of 65536 bytes (--max-inflight-request-bytes)"),
            std::string::npos) << s.error_message();
  // Just under it: answered.
  EXPECT_TRUE(world.Search(PaddedRequest(world, 60 << 10), &response).ok());

  // A waiting call holds 40 KiB: another 40 KiB doesn't fit, 20 KiB does.
  const uint64_t never = world.registry.applied_lsn() + (uint64_t{7} << 32);
  InFlight waiting;
  InFlight::Call* holder = waiting.Start(*world.stub, PaddedRequest(world, 40 << 10, never), milliseconds(60000));
  ASSERT_TRUE(WaitForServing(world, [](const v1::ServingStatus& s) { return s.searches_waiting_for_lsn() == 1; }))
      << holder->status.error_code() << " " << holder->status.error_message() << " "
      << Serving(world).DebugString();
  EXPECT_GE(Serving(world).inflight_request_bytes(), 39u << 10);
  s = world.Search(PaddedRequest(world, 40 << 10), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(s.error_message().find("--max-inflight-request-bytes"), std::string::npos) << s.error_message();
  EXPECT_TRUE(world.Search(PaddedRequest(world, 20 << 10), &response).ok());
  EXPECT_EQ(Serving(world).refused_request_bytes(), 2u);

  // Released when the holder ends: the same request now fits.
  holder->context.TryCancel();
  ASSERT_TRUE(waiting.WaitAll(milliseconds(10000)));
  ASSERT_TRUE(WaitForServing(world, [](const v1::ServingStatus& s) { return s.inflight_request_bytes() == 0; }));
  EXPECT_TRUE(world.Search(PaddedRequest(world, 40 << 10), &response).ok());
}

grpc::Status Batch(TestWorld& world, const v1::BatchSearchRequest& batch, v1::BatchSearchResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(60));
  return world.stub->BatchSearchSimilarEntities(&context, batch, response);
}

TEST(ServiceServingTest, ABatchAskingForMoreResultRowsThanTheBoundIsInvalid) {
  TestWorld world;  // default bound: 100,000 rows
  const Uuid tenant = world.tenant_a;
  const std::vector<float> query = world.QueryNear(world.AnyRow(tenant, kMiniLm));
  v1::BatchSearchRequest batch;
  for (int i = 0; i < 100; ++i) *batch.add_requests() = VectorRequest(tenant, kMiniLm, query, 1000);

  // At the bound: every item answered in full (each index holds fewer than 1000 rows).
  v1::BatchSearchResponse response;
  grpc::Status s = Batch(world, batch, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(response.items_size(), 100);
  const size_t live = world.RowsOf(tenant, kMiniLm).size();
  for (const auto& item : response.items()) {
    EXPECT_EQ(item.code(), grpc::StatusCode::OK);
    EXPECT_EQ(static_cast<size_t>(item.response().results_size()), live);
  }

  // One item more.
  *batch.add_requests() = VectorRequest(tenant, kMiniLm, query, 1000);
  s = Batch(world, batch, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("101000 result rows"), std::string::npos) << s.error_message();
  EXPECT_NE(s.error_message().find("at most 100000 (--max-batch-results)"), std::string::npos)
      << s.error_message();
}

TEST(ServiceServingTest, ABatchResponseLargerThanTheMessageLimitIsInvalidNotATransportError) {
  SearchServiceOptions options;
  options.max_response_bytes = 64 << 10;
  TestWorld world(options);
  const Uuid tenant = world.tenant_a;
  const std::vector<float> query = world.QueryNear(world.AnyRow(tenant, kMiniLm));
  v1::BatchSearchRequest batch;
  for (int i = 0; i < 10; ++i) *batch.add_requests() = VectorRequest(tenant, kMiniLm, query, 1000);
  v1::BatchSearchResponse response;
  const grpc::Status s = Batch(world, batch, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("more than the largest message of 65536 bytes (--max-message-bytes)"),
            std::string::npos) << s.error_message();
}

TEST(ServiceServingTest, ARequestOverTheMessageSizeIsRefusedBeforeAnyHandler) {
  Registry registry;
  ModelCatalog models;
  MirrorStatusBoard board;
  board.Update([](MirrorState& s) { s.loaded = true; });
  SearchService service(registry, models, board);
  GrpcServer server(GrpcServerOptions{.listen = "127.0.0.1:0", .max_message_bytes = 1 << 20});
  ASSERT_TRUE(server.Start({&service}).ok());
  auto stub = v1::VectorSearch::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server.bound_port()), grpc::InsecureChannelCredentials()));
  v1::SearchRequest request;
  request.set_tenant_id("123e4567-e89b-12d3-a456-426614174000");
  request.set_model("all-MiniLM-L6-v2");
  request.mutable_vector()->mutable_values()->Resize(300000, 0.5f);  // 1.2 MB
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(20));
  v1::SearchResponse response;
  const grpc::Status s = stub->SearchSimilarEntities(&context, request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_EQ(service.Counters().admission.inflight_request_bytes, 0u);
  server.Shutdown(std::chrono::system_clock::now());
}

}  // namespace
}  // namespace vecmirror::service_test
