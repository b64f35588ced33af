// How many CPUs this process may really use: the smaller of the CPUs in its affinity mask
// (sched_getaffinity: taskset, cpusets) and its cgroup CPU quota (cgroup v2 `cpu.max`, v1
// `cpu.cfs_quota_us` / `cpu.cfs_period_us`; a container's --cpus, a Slurm or systemd CPU limit),
// at least 1. std::thread::hardware_concurrency() counts the machine's CPUs, which is how a
// process limited to 2 CPUs of 64 ends up starting 64 decoder threads and stalling on its quota.
//
// The quota of the process's cgroup and of every ancestor up to the cgroup mount applies (the
// kernel enforces each level): the smallest quota/period on that path counts, rounded up (a
// 1.5-CPU quota allows 2 busy threads a little under 75% of the time each, which beats 1).
// "max" (v2) and -1 (v1) mean no limit. Files that are missing, unreadable or malformed are no
// limit: detection never fails, it only falls back to the affinity mask, then to the hardware.
//
// Thread-safety: cpu_budget() has no state; available_cpus() computes once per process (a
// function-local static) and is safe to call from any thread. Raises no errors.
#pragma once
#include <string>

namespace npz {

struct CgroupQuota {
  double cpus = 0;    // quota / period of the tightest level, e.g. 1.5
  unsigned ceil = 0;  // cpus rounded up, >= 1
  int version = 0;    // 1 or 2
  std::string dir;    // the cgroup directory whose limit applies (below `root`)
};

struct CpuBudget {
  unsigned cpus = 1;       // the result: min(affinity or hardware, quota rounded up), >= 1
  unsigned hardware = 0;   // std::thread::hardware_concurrency() (0: unknown)
  unsigned affinity = 0;   // CPUs in the sched_getaffinity mask (0: unavailable)
  bool has_quota = false;  // a cgroup CPU quota was found
  CgroupQuota quota;
  // What decided `cpus`: "cgroup-quota" (the quota is below the usable CPUs), "affinity" (the
  // mask holds fewer CPUs than the machine has) or "hardware".
  const char* source = "hardware";
};

// The cgroup CPU quota of this process as seen under `root` ("/" on a live system; tests pass a
// fixture tree holding proc/self/cgroup, proc/self/mountinfo and the cgroup files). The cgroup
// mounts come from proc/self/mountinfo (cgroup2, or a v1 hierarchy with the "cpu" controller);
// without mountinfo, sys/fs/cgroup (v2) and sys/fs/cgroup/cpu (v1) are tried. Returns false when
// no quota limits the process.
bool cgroup_cpu_quota(const std::string& root, CgroupQuota* out);

// Fresh detection (reads /proc and the cgroup files each call): the affinity mask of the calling
// thread and the cgroup quota under `root`.
CpuBudget cpu_budget(const std::string& root = "/");

// cpu_budget().cpus, computed at the first call and kept for the life of the process.
unsigned available_cpus();

}  // namespace npz
