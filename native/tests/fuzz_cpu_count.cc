// libFuzzer target: the cgroup CPU quota parser (cpu_count.h) over a fake root. The input is
// split at NUL bytes into proc/self/cgroup, proc/self/mountinfo, the v2 cpu.max at the usual
// mount point, and the v1 cpu.cfs_quota_us / cpu.cfs_period_us; cgroup_cpu_quota must return
// (with a quota of at least 1 CPU rounded up, or none) and never crash, hang or leak.
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cpu_count.h"

namespace {

void remove_root();

// The fake root's path, in a static buffer: it must outlive the atexit clean-up, which runs
// after static std::string objects are destroyed.
char g_root[64];

std::string root() {
  if (!g_root[0]) {
    char tmpl[] = "/tmp/npz_fuzz_cgroup_XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    if (!d) std::abort();
    std::snprintf(g_root, sizeof g_root, "%s", d);
    for (const char* sub :
         {"/proc", "/proc/self", "/sys", "/sys/fs", "/sys/fs/cgroup", "/sys/fs/cgroup/cpu"}) {
      if (::mkdir((std::string(g_root) + sub).c_str(), 0700) != 0) std::abort();
    }
    std::atexit(remove_root);
  }
  return g_root;
}

constexpr const char* kFiles[] = {"/proc/self/cgroup", "/proc/self/mountinfo",
                                  "/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
                                  "/sys/fs/cgroup/cpu/cpu.cfs_period_us"};

// Leaves no fake root behind in /tmp.
void remove_root() {
  for (const char* f : kFiles) ::unlink((root() + f).c_str());
  for (const char* d :
       {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup", "/sys/fs", "/sys", "/proc/self", "/proc", ""}) {
    ::rmdir((root() + d).c_str());
  }
}

void put(const std::string& rel, const std::string& text) {
  FILE* f = std::fopen((root() + rel).c_str(), "wb");
  if (!f) std::abort();
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> part(5);
  size_t k = 0;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0 && k + 1 < part.size()) {
      ++k;
      continue;
    }
    part[k].push_back(static_cast<char>(data[i]));
  }
  for (size_t i = 0; i < part.size(); ++i) put(kFiles[i], part[i]);
  npz::CgroupQuota q;
  if (npz::cgroup_cpu_quota(root(), &q) && (q.ceil < 1 || !(q.cpus > 0))) std::abort();
  return 0;
}
