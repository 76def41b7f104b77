// TextPool: a few distinct strings held once and named by small ids. The mirror keeps the model
// name and entity type of every row as an id here rather than as a copy per row (there are a
// handful of each, and a copy of "text-embedding-3-small" is a 32-byte heap block).
//
// An id names the same text until a Sweep frees it; a freed id is reused for a later new text.
// The pool does not count references: its owner sweeps now and then with the ids it still uses
// (Mirror does so when the pool has doubled since the last sweep), so texts that no row uses any
// more do not pile up.
//
// Thread-safety: not thread-safe; one owner uses it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vecmirror {

class TextPool {
 public:
  using Id = uint32_t;

  // The id of `text`, a new one if the pool does not hold it.
  Id Intern(std::string_view text) {
    if (auto it = ids_.find(std::string(text)); it != ids_.end()) return it->second;
    Id id;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
      texts_[id] = std::string(text);
    } else {
      id = static_cast<Id>(texts_.size());
      texts_.emplace_back(text);
    }
    ids_.emplace(texts_[id], id);
    return id;
  }

  // The text of a live id.
  const std::string& Text(Id id) const { return texts_[id]; }

  // Live ids.
  size_t size() const { return ids_.size(); }
  // One past the largest id ever handed out: the size of Sweep's `in_use`.
  size_t id_limit() const { return texts_.size(); }

  // Frees every live id whose in_use[id] is false (or lies past in_use's end).
  void Sweep(const std::vector<bool>& in_use) {
    for (auto it = ids_.begin(); it != ids_.end();) {
      const Id id = it->second;
      if (id < in_use.size() && in_use[id]) {
        ++it;
        continue;
      }
      texts_[id] = std::string();
      texts_[id].shrink_to_fit();
      free_.push_back(id);
      it = ids_.erase(it);
    }
  }

 private:
  std::vector<std::string> texts_;  // by id; empty when freed
  std::unordered_map<std::string, Id> ids_;
  std::vector<Id> free_;
};

}  // namespace vecmirror
