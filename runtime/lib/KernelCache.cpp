// act runtime: the persistent kernel cache (format and rules in KernelCache.h).
#include "KernelCache.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <mutex>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace act::detail {

namespace {

constexpr char kMagic[8] = {'A', 'C', 'T', 'K', 'C', 'O', 'B', 'J'};
/// Bump when the header or what goes into the key changes meaning.
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderSize = 88;

void putLE(uint8_t *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i)
    p[i] = uint8_t(v >> (8 * i));
}
uint64_t getLE(const uint8_t *p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= uint64_t(p[i]) << (8 * i);
  return v;
}

/// An anchor whose address lies in the act library.
void anchor() {}

/// The GNU build id of the loaded object holding `anchor`, as hex; "" when it has none.
std::string buildIdOfThisLibrary() {
  struct Search {
    uintptr_t addr;
    std::string id;
  } search{reinterpret_cast<uintptr_t>(&anchor), ""};
  dl_iterate_phdr(
      [](dl_phdr_info *info, size_t, void *data) -> int {
        auto *s = static_cast<Search *>(data);
        bool contains = false;
        for (int i = 0; i < info->dlpi_phnum && !contains; ++i) {
          const ElfW(Phdr) &ph = info->dlpi_phdr[i];
          uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
          contains = ph.p_type == PT_LOAD && s->addr >= begin && s->addr < begin + ph.p_memsz;
        }
        if (!contains)
          return 0;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr) &ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_NOTE)
            continue;
          auto *p = reinterpret_cast<const uint8_t *>(info->dlpi_addr + ph.p_vaddr);
          const uint8_t *end = p + ph.p_memsz;
          while (p + sizeof(ElfW(Nhdr)) <= end) {
            auto *note = reinterpret_cast<const ElfW(Nhdr) *>(p);
            const uint8_t *name = p + sizeof(ElfW(Nhdr));
            const uint8_t *desc = name + ((note->n_namesz + 3) & ~3u);
            if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 &&
                std::memcmp(name, "GNU", 4) == 0 && desc + note->n_descsz <= end) {
              s->id = llvm::toHex(llvm::ArrayRef<uint8_t>(desc, note->n_descsz), true);
              return 1;
            }
            p = desc + ((note->n_descsz + 3) & ~3u);
          }
        }
        return 1;
      },
      &search);
  return search.id;
}

/// What identifies the code of this build of act: its build id, or (linked without
/// one) the BLAKE3 of the library file holding this code.
const std::string &buildIdentity() {
  static const std::string identity = [] {
    std::string id = buildIdOfThisLibrary();
    if (!id.empty())
      return "build-id:" + id;
    Dl_info info;
    if (dladdr(reinterpret_cast<void *>(&anchor), &info) && info.dli_fname) {
      if (auto file = llvm::MemoryBuffer::getFile(info.dli_fname, false, false)) {
        auto hash = llvm::BLAKE3::hash(llvm::arrayRefFromStringRef((*file)->getBuffer()));
        return "file-blake3:" + llvm::toHex(hash, true);
      }
    }
    return std::string("unknown-build:" __DATE__ " " __TIME__);
  }();
  return identity;
}

} // namespace

CacheKey::CacheKey(llvm::StringRef triple, llvm::StringRef cpu, llvm::StringRef features) {
  add("act-kernel-cache").add(kFormatVersion);
  add(ACT_VERSION).add(buildIdentity()).add(LLVM_VERSION_STRING);
  add(triple).add(cpu).add(features);
}

CacheKey &CacheKey::add(llvm::StringRef field) {
  add(uint64_t(field.size()));
  hasher.update(field);
  return *this;
}

CacheKey &CacheKey::add(uint64_t field) {
  uint8_t bytes[8];
  putLE(bytes, field, 8);
  hasher.update(llvm::ArrayRef<uint8_t>(bytes, 8));
  return *this;
}

CacheKeyBytes CacheKey::finish() { return hasher.final(); }

std::string cacheDirectory(const CompileOptions &options) {
  if (!options.useCache)
    return "";
  if (!options.cacheDir.empty())
    return options.cacheDir;
  if (const char *env = std::getenv("ACT_CACHE_DIR")) {
    std::string dir = env;
    if (dir.empty() || dir == "off" || dir == "OFF" || dir == "0")
      return "";
    return dir;
  }
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg == '/')
    return std::string(xdg) + "/act";
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/act";
  return "";
}

std::string cacheFileName(const CacheKeyBytes &key) {
  return llvm::toHex(key, /*LowerCase=*/true) + ".actk";
}

std::unique_ptr<llvm::MemoryBuffer> loadCachedObject(const std::string &dir,
                                                     const CacheKeyBytes &key) {
  std::string path = dir + "/" + cacheFileName(key);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return nullptr;
  struct stat st;
  std::unique_ptr<llvm::WritableMemoryBuffer> file;
  bool ok = ::fstat(fd, &st) == 0 && st.st_size >= (off_t)kHeaderSize;
  if (ok) {
    file = llvm::WritableMemoryBuffer::getNewUninitMemBuffer((size_t)st.st_size);
    ok = file != nullptr;
    size_t done = 0;
    while (ok && done < (size_t)st.st_size) {
      ssize_t n = ::read(fd, file->getBufferStart() + done, (size_t)st.st_size - done);
      if (n <= 0)
        ok = false;
      else
        done += (size_t)n;
    }
  }
  ::close(fd);
  auto bad = [&]() -> std::unique_ptr<llvm::MemoryBuffer> {
    ::unlink(path.c_str()); // damaged: drop it, the caller rebuilds and stores it again
    return nullptr;
  };
  if (!ok)
    return bad();
  auto *bytes = reinterpret_cast<const uint8_t *>(file->getBufferStart());
  if (std::memcmp(bytes, kMagic, 8) != 0 || getLE(bytes + 8, 4) != kFormatVersion ||
      std::memcmp(bytes + 16, key.data(), 32) != 0 ||
      getLE(bytes + 48, 8) != (uint64_t)st.st_size - kHeaderSize)
    return bad();
  llvm::ArrayRef<uint8_t> payload(bytes + kHeaderSize, (size_t)st.st_size - kHeaderSize);
  auto sum = llvm::BLAKE3::hash(payload);
  if (std::memcmp(bytes + 56, sum.data(), 32) != 0)
    return bad();
  return llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(reinterpret_cast<const char *>(payload.data()), payload.size()),
      path);
}

bool storeCachedObject(const std::string &dir, const CacheKeyBytes &key,
                       llvm::StringRef object) {
  if (llvm::sys::fs::create_directories(dir))
    return false;
  uint8_t header[kHeaderSize] = {};
  std::memcpy(header, kMagic, 8);
  putLE(header + 8, kFormatVersion, 4);
  std::memcpy(header + 16, key.data(), 32);
  putLE(header + 48, object.size(), 8);
  auto sum = llvm::BLAKE3::hash(llvm::arrayRefFromStringRef(object));
  std::memcpy(header + 56, sum.data(), 32);

  static std::mutex rngMutex;
  static std::mt19937_64 rng(std::random_device{}() ^ (uint64_t)::getpid());
  uint64_t nonce;
  {
    std::lock_guard<std::mutex> lock(rngMutex);
    nonce = rng();
  }
  std::string path = dir + "/" + cacheFileName(key);
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + llvm::utohexstr(nonce);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return false;
  auto writeAll = [fd](const void *data, size_t size) {
    auto *p = static_cast<const char *>(data);
    while (size > 0) {
      ssize_t n = ::write(fd, p, size);
      if (n <= 0)
        return false;
      p += n;
      size -= (size_t)n;
    }
    return true;
  };
  bool ok = writeAll(header, kHeaderSize) && writeAll(object.data(), object.size());
  ok = (::close(fd) == 0) && ok;
  if (ok)
    ok = ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok)
    ::unlink(tmp.c_str());
  return ok;
}

} // namespace act::detail
