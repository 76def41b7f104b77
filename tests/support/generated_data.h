// LoadGeneratedData: fills a live-mirror test database with the data generator's rows and
// reads back what the writers of the tests need: every entity id with its tenant, and the
// tenants.
//
// Thread-safety: one test thread.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "tests/support/live_mirror.h"
#include "tools/datagen/loader.h"

namespace vecmirror::testing {

struct GeneratedData {
  std::vector<std::pair<std::string, std::string>> entities;  // (id, tenant id), by id
  std::vector<std::string> tenants;                           // by id
};

inline Status LoadGeneratedData(const std::string& conninfo, const datagen::DatasetSpec& spec,
                                GeneratedData* out) {
  {
    SqlSession loader(conninfo);
    datagen::LoadStats stats;
    if (Status s = datagen::LoadDataset(loader.raw(), spec, {}, &stats); !s.ok()) return s;
  }
  std::vector<Row> rows;
  if (Status s = QueryRows(conninfo, "SELECT DISTINCT id::text, tenant_id::text FROM entity ORDER BY 1",
                           &rows);
      !s.ok()) {
    return s;
  }
  for (const Row& r : rows) out->entities.emplace_back(*r[0], *r[1]);
  if (Status s = QueryRows(conninfo, "SELECT id::text FROM tenant ORDER BY id", &rows); !s.ok()) return s;
  for (const Row& r : rows) out->tenants.push_back(*r[0]);
  return Status::Ok();
}

}  // namespace vecmirror::testing
