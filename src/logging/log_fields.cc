#include "src/logging/log_fields.h"

namespace vecmirror {
namespace {

std::vector<LogField>& ThreadFields() {
  thread_local std::vector<LogField> fields;
  return fields;
}

}  // namespace

ScopedLogFields::ScopedLogFields(std::initializer_list<LogField> fields)
    : previous_size_(ThreadFields().size()) {
  ThreadFields().insert(ThreadFields().end(), fields.begin(), fields.end());
}

ScopedLogFields::~ScopedLogFields() { ThreadFields().resize(previous_size_); }

const std::vector<LogField>& CurrentLogFields() { return ThreadFields(); }

}  // namespace vecmirror
