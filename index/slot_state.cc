#include "index/slot_state.h"

#include <utility>

namespace vecmirror {

LiveRows CopyLiveRows(const SlotState& state) {
  LiveRows rows;
  rows.ids.reserve(state.live_count);
  rows.types.reserve(state.live_count);
  rows.vectors.resize(state.live_count * state.dim);
  float* out = rows.vectors.data();
  if (state.sealed->sq8_ranges != nullptr) rows.sq8_ranges = *state.sealed->sq8_ranges;
  for (size_t slot = 0; slot < state.slots(); ++slot) {
    if (!state.live[slot]) continue;
    if (slot < state.sealed->rows) ++rows.decoded_rows;  // slots are copied in order
    rows.ids.push_back(state.ids[slot]);
    rows.types.push_back(state.types[slot]);
    state.CopyVector(slot, out);
    out += state.dim;
  }
  return rows;
}

std::unique_ptr<SlotState> BuildState(LiveRows rows, IndexKind kind, size_t dim,
                                      const IndexOptions& options,
                                      const std::function<void(size_t)>& progress) {
  auto state = std::make_unique<SlotState>(dim);
  const size_t n = rows.ids.size();
  SealedSq8Prior prior;
  if (rows.sq8_ranges) prior = {&*rows.sq8_ranges, rows.decoded_rows};
  std::vector<uint32_t> order;
  state->sealed =
      BuildSealed(kind, std::move(rows.vectors), n, dim, options, progress, &order, prior);
  if (order.empty()) {
    state->ids = std::move(rows.ids);
    state->types = std::move(rows.types);
  } else {
    // The structure numbered the rows anew (IVF, list by list): the slots follow.
    state->ids.resize(n);
    state->types.resize(n);
    for (size_t slot = 0; slot < n; ++slot) {
      state->ids[slot] = rows.ids[order[slot]];
      state->types[slot] = rows.types[order[slot]];
    }
  }
  state->live.assign(n, 1);
  state->slot_of.Reserve(n, state->ids);
  for (size_t slot = 0; slot < n; ++slot) {
    state->slot_of.Insert(static_cast<uint32_t>(slot), state->ids);
    state->CountLive(state->types[slot]);
  }
  state->live_count = n;
  return state;
}

}  // namespace vecmirror
