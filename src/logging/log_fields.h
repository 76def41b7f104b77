// ScopedLogFields: structured fields (tenant, model, lsn, duration_seconds, ...) attached to
// every line the current thread logs while the object lives. JSON logs (log_format.h) carry
// them as keys of their own, so a log pipeline can filter by tenant without parsing messages;
// text logs leave them out, since their messages already say the same in words.
//
//   {
//     ScopedLogFields fields({{"tenant", key.tenant_id.ToString()}, {"duration_seconds", 1.5}});
//     spdlog::info("rebuild {}: done in {:.1f} s", key.ToString(), 1.5);
//   }
//
// Scopes nest; an inner field of the same name wins.
//
// Thread-safety: the fields are thread-local; each thread sees only its own. spdlog's default
// logger formats in the logging thread, which is what makes this work.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace vecmirror {

using LogField = std::pair<std::string, nlohmann::ordered_json>;

class ScopedLogFields {
 public:
  explicit ScopedLogFields(std::initializer_list<LogField> fields);
  ~ScopedLogFields();
  ScopedLogFields(const ScopedLogFields&) = delete;
  ScopedLogFields& operator=(const ScopedLogFields&) = delete;

 private:
  size_t previous_size_;
};

// The fields in effect on this thread, outermost first.
const std::vector<LogField>& CurrentLogFields();

// One line with `fields` attached: a ScopedLogFields around one spdlog call.
//   LogWithFields({{"lsn", FormatLsn(lsn)}}, spdlog::level::info, "streaming from {}", ...);
template <typename... Args>
void LogWithFields(std::initializer_list<LogField> fields, spdlog::level::level_enum level,
                   spdlog::format_string_t<Args...> format, Args&&... args) {
  ScopedLogFields scope(fields);
  spdlog::log(level, format, std::forward<Args>(args)...);
}

}  // namespace vecmirror
