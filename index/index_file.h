// Index files: one IndexImage (index/index_image.h) per file, as a snapshot stores it.
//
// Layout (little-endian, arrays with a 64-bit count in front, index/checksummed_file.h):
//   "VMINDEX\n", format version (u32)
//   key: tenant (16 bytes), model (string), dim (u32)
//   kind (u8), vector storage (u8, from version 2; 2 = SQ8 from version 3), pinned kind (u8, 255 = none),
//   covered LSN (u64)
//   slots, sealed rows, live count (u64 each)
//   per slot: ids (16 bytes each), type codes (u16), live flags (u8)
//   the sealed structure (index/sealed_file.h)
//   the tail rows (floats, (slots - sealed rows) x dim)
//   "VMINDEX\n" again
// The file's size and CRC-32 are kept by the caller (the snapshot's manifest), which passes
// them back to ReadIndexFile: a file is decoded only as far as its size allows, and nothing
// decoded is used unless the checksum matched.
//
// Thread-safety: pure functions; a file is written by one caller.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "index/checksummed_file.h"
#include "index/index_image.h"

namespace vecmirror {

// Format versions: a build reads files of its version and older ones it knows.
// 1: fp32 rows only. 2: a vector-storage byte (0 fp32, 1 fp16) follows the kind in the header;
// a version 1 file reads as fp32. 3: an IVF structure holds its rows once, list by list, with the
// lists' slot offsets (index/sealed_file.h); an older IVF file's rows, in its lists and again by
// slot, read into that layout with the sealed slots renumbered list by list. Also from 3, the
// storage byte may be 2 (SQ8), whose HNSW section holds the per-dimension ranges before the
// codes; in versions 1 and 2 a storage byte of 2 is out of range.
constexpr uint32_t kIndexFileVersion = 3;

// Creates `path` (which must not exist), writes `image` and fsyncs it; `digest` gets the file's
// size and CRC-32.
Status WriteIndexFile(const IndexImage& image, const std::string& path, FileDigest* digest);

// Reads the image of an index file whose size and CRC-32 are `expected`. NotFound "missing file
// F"; Corruption "truncated file F ...", "checksum mismatch in file F", "corrupt file F: ...",
// or "format version N of file F is newer than this build's M". `max_type_codes`: every slot's
// type code must be below it (the snapshot's type dictionary size).
Status ReadIndexFile(const std::string& path, const FileDigest& expected, size_t max_type_codes,
                     IndexImage* image);

}  // namespace vecmirror
