// act runtime (internal): the persistent kernel cache on disk.
//
// One entry per compiled unit (an activation's kernels for one element type and
// derivative order, or a batch of activations, see Module::compileKernels): the
// relocatable object files the JIT links (a bundle, see HostCodegen.h), wrapped in a header that lets a damaged
// entry be told from a good one:
//
//   offset  size  field
//        0     8  magic "ACTKCOBJ"
//        8     4  format version (little endian)
//       12     4  reserved, 0
//       16    32  key (BLAKE3 of everything the object depends on, see CacheKey)
//       48     8  payload length in bytes (little endian)
//       56    32  BLAKE3 of the payload
//       88     -  payload: the object bundle
//
// A file whose size, magic, version, key or checksum does not match is deleted and
// reported as a miss; it is never linked. Writers write a temporary file
// (`<key>.tmp.<pid>.<random>`) in the cache directory and rename it over the entry,
// so readers see either no entry or a whole one, and processes racing to store the
// same key all succeed (the last rename wins; every candidate is valid).
// Every I/O error is swallowed: the cache only ever saves time.
#pragma once

#include "act/act.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/BLAKE3.h"
#include "llvm/Support/MemoryBuffer.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>

namespace act::detail {

using CacheKeyBytes = std::array<uint8_t, 32>;

/// Builds a cache key: BLAKE3 over length-prefixed fields. Starts with what every
/// entry depends on besides its source: act's version, the build of the act library
/// itself (its ELF build id, or its file's contents), the LLVM version, the entry
/// format, and the host target (triple, CPU name, CPU features).
class CacheKey {
public:
  CacheKey(llvm::StringRef triple, llvm::StringRef cpu, llvm::StringRef features);
  CacheKey &add(llvm::StringRef field);
  CacheKey &add(uint64_t field);
  CacheKeyBytes finish();

private:
  llvm::BLAKE3 hasher;
};

/// The cache directory `options` and the environment select, or "" when caching is
/// off: `options.useCache == false` disables it; a non-empty `options.cacheDir` wins;
/// then $ACT_CACHE_DIR ("" or "off" disables); then $XDG_CACHE_HOME/act, then
/// $HOME/.cache/act; "" when none of these is set.
std::string cacheDirectory(const CompileOptions &options);

/// The entry's file name in its directory: the key in hex plus ".actk".
std::string cacheFileName(const CacheKeyBytes &key);

/// The object stored under `key` in `dir`, or null when there is none or it is
/// damaged (then it is removed).
std::unique_ptr<llvm::MemoryBuffer> loadCachedObject(const std::string &dir,
                                                     const CacheKeyBytes &key);

/// Stores `object` under `key` in `dir` (created when missing), atomically.
/// Returns false (and leaves no file behind) when it could not.
bool storeCachedObject(const std::string &dir, const CacheKeyBytes &key,
                       llvm::StringRef object);

} // namespace act::detail
