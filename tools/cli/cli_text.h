// The text forms vecmirror-cli reads and prints: query vectors, LSNs and byte counts.
// Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vecmirror::cli {

// Floats separated by whitespace, commas or square brackets, so pgvector's "[1,2.5,-3]", a
// JSON array and "1 2.5 -3" all parse. Returns false with `error` set on any other token, or
// when there are no numbers at all.
bool ParseVectorText(std::string_view text, std::vector<float>* out, std::string* error);

// An LSN as PostgreSQL prints it ("16/B374D848", hex) or as a decimal integer.
bool ParseLsnArgument(std::string_view text, uint64_t* out);

// "512 B", "3.4 KiB", "1.2 GiB".
std::string FormatBytes(uint64_t bytes);

}  // namespace vecmirror::cli
