// Waiting for the rebuilds that RebuildIndex started, by polling ListIndexes as a client does.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "vecmirror/v1/vecmirror.grpc.pb.h"

namespace vecmirror::testing {

inline bool RebuildEnded(const v1::RebuildJob& job) {
  return job.state() == v1::REBUILD_STATE_DONE || job.state() == v1::REBUILD_STATE_FAILED ||
         job.state() == v1::REBUILD_STATE_CANCELLED;
}

// Polls ListIndexes of the tenant until every job in `started` has ended (or a newer job of its
// index shows), and returns the listed indexes by model; a failure and an empty map past
// `timeout`.
inline std::map<std::string, v1::IndexInfo> AwaitRebuilds(
    v1::VectorSearch::Stub& stub, const v1::RebuildIndexResponse& started,
    std::chrono::seconds timeout = std::chrono::seconds(120)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (started.rebuilt_size() == 0) return {};
  while (std::chrono::steady_clock::now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::ListIndexesRequest request;
    request.set_tenant_id(started.rebuilt(0).tenant_id());
    v1::ListIndexesResponse listed;
    const grpc::Status status = stub.ListIndexes(&context, request, &listed);
    if (!status.ok()) {
      ADD_FAILURE() << "ListIndexes: " << status.error_message();
      return {};
    }
    std::map<std::string, v1::IndexInfo> by_model;
    for (const v1::IndexInfo& info : listed.indexes()) by_model[info.model()] = info;
    bool all_ended = true;
    for (const v1::IndexInfo& asked : started.rebuilt()) {
      const v1::RebuildJob& job = by_model[asked.model()].rebuild();
      if (job.job_id() == asked.rebuild().job_id() && !RebuildEnded(job)) all_ended = false;
    }
    if (all_ended) return by_model;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "the rebuilds did not end within " << timeout.count() << " s";
  return {};
}

}  // namespace vecmirror::testing
