// The most memory one allocation could ever get on this machine: RAM + swap (sysinfo), lowered
// to the cgroup v2 memory limit of this process when one is set (memory.max of the cgroup named
// by /proc/self/cgroup). A copy larger than that cannot succeed, but under
// vm.overcommit_memory=1 (common on HPC nodes) the kernel grants the address space anyway and the
// process is OOM-killed halfway through filling it; checking against this ceiling first turns
// that into ERR_NPZ_LIMIT on every overcommit policy. Computed once (thread-safe static).
// Header-only; Linux (elsewhere: no ceiling).
#pragma once
#include <cstdint>
#include <fstream>
#include <string>

#if defined(__linux__)
#include <sys/sysinfo.h>
#endif

namespace npz {

namespace detail {

// memory.max of the process's cgroup v2 ("max" or unreadable: no limit).
inline uint64_t cgroup_memory_max() {
  std::ifstream cg("/proc/self/cgroup");
  std::string line;
  while (std::getline(cg, line)) {
    if (line.rfind("0::", 0) != 0) continue;  // the v2 unified hierarchy
    std::ifstream f("/sys/fs/cgroup" + line.substr(3) + "/memory.max");
    std::string v;
    if (!(f >> v) || v == "max") return UINT64_MAX;
    try {
      return std::stoull(v);
    } catch (...) { return UINT64_MAX; }
  }
  return UINT64_MAX;
}

inline uint64_t compute_memory_ceiling() {
#if defined(__linux__)
  struct sysinfo si {};
  if (::sysinfo(&si) != 0) return UINT64_MAX;
  const uint64_t unit = si.mem_unit ? si.mem_unit : 1;
  const uint64_t total = (static_cast<uint64_t>(si.totalram) + si.totalswap) * unit;
  const uint64_t cg = cgroup_memory_max();
  return total != 0 && total < cg ? total : cg;
#else
  return UINT64_MAX;
#endif
}

}  // namespace detail

inline uint64_t memory_ceiling() {
  static const uint64_t ceiling = detail::compute_memory_ceiling();
  return ceiling;
}

}  // namespace npz
