// cgroup_cpu_quota / cpu_budget over fixture trees (a fake root holding proc/self/cgroup,
// proc/self/mountinfo and the cgroup files): cgroup v2 cpu.max and v1 cfs quota/period, nested
// cgroups (the tightest ancestor wins), "max" / -1 (no limit), fractional quotas rounded up, a
// namespaced mount root, an escaped mount point, hybrid hosts, missing and malformed files.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "cpu_count.h"
#include "harness.h"

namespace fs = std::filesystem;

namespace {

// A temporary fake root, removed at scope exit.
class Tree {
 public:
  Tree() {
    char tmpl[] = "/tmp/npz_cgroup_XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    root_ = d ? d : "/nonexistent-npz-cgroup";
  }
  ~Tree() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;
  void put(const std::string& rel, const std::string& text) const {
    const fs::path p = fs::path(root_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

const char* kV2Mount =
    "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw\n";
const char* kV1Mounts =
    "22 21 0:20 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755\n"
    "25 22 0:22 / /sys/fs/cgroup/memory rw,nosuid shared:11 - cgroup cgroup rw,memory\n"
    "26 22 0:23 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:12 - cgroup cgroup rw,cpu,cpuacct\n";

bool near(double a, double b) { return std::fabs(a - b) < 1e-9; }

}  // namespace

NPZ_TEST(cpu_count_v2_fractional_quota_rounds_up) {
  Tree t;
  t.put("proc/self/cgroup", "0::/user.slice/job-1\n");
  t.put("proc/self/mountinfo", kV2Mount);
  t.put("sys/fs/cgroup/user.slice/job-1/cpu.max", "150000 100000\n");
  npz::CgroupQuota q;
  NPZ_EXPECT(npz::cgroup_cpu_quota(t.root(), &q));
  NPZ_EXPECT(near(q.cpus, 1.5));
  NPZ_EXPECT(q.ceil == 2);
  NPZ_EXPECT(q.version == 2);
  NPZ_EXPECT(q.dir == "/sys/fs/cgroup/user.slice/job-1");
  // Just over a whole CPU still rounds up; under one CPU is at least 1.
  t.put("sys/fs/cgroup/user.slice/job-1/cpu.max", "100001 100000\n");
  NPZ_EXPECT(npz::cgroup_cpu_quota(t.root(), &q) && q.ceil == 2);
  t.put("sys/fs/cgroup/user.slice/job-1/cpu.max", "20000 100000\n");
  NPZ_EXPECT(npz::cgroup_cpu_quota(t.root(), &q) && q.ceil == 1 && near(q.cpus, 0.2));
  t.put("sys/fs/cgroup/user.slice/job-1/cpu.max", "400000 100000\n");
  NPZ_EXPECT(npz::cgroup_cpu_quota(t.root(), &q) && q.ceil == 4);
}

NPZ_TEST(cpu_count_v2_max_is_no_limit) {
  Tree t;
  t.put("proc/self/cgroup", "0::/\n");
  t.put("proc/self/mountinfo", kV2Mount);
  t.put("sys/fs/cgroup/cpu.max", "max 100000\n");
  npz::CgroupQuota q;
  NPZ_EXPECT(!npz::cgroup_cpu_quota(t.root(), &q));
}

NPZ_TEST(cpu_count_v2_nested_tightest_ancestor_wins) {
  Tree t;
  t.put("proc/self/cgroup", "0::/a/b/c\n");
  t.put("proc/self/mountinfo", kV2Mount);
  t.put("sys/fs/cgroup/a/b/c/cpu.max", "max 100000\n");
  t.put("sys/fs/cgroup/a/b/cpu.max", "300000 100000\n");
  t.put("sys/fs/cgroup/a/cpu.max", "200000 100000\n");
  t.put("sys/fs/cgroup/cpu.max", "max 100000\n");
  npz::CgroupQuota q;
  NPZ_EXPECT(npz::cgroup_cpu_quota(t.root(), &q));
  NPZ_EXPECT(q.ceil == 2 && q.dir == "/sys/fs/cgroup/a");
  // A tighter leaf wins over its parents.
  t.put("sys/fs/cgroup/a/b/c/cpu.max", "50000 100000\n");
  NPZ_EXPECT(npz::cgroup_cpu_quota(t.root(), &q) && q.ceil == 1 && q.dir == "/sys/fs/cgroup/a/b/c");
  // A limit on a sibling is not ours.
  t.put("sys/fs/cgroup/a/b/c/cpu.max", "max 100000\n");
  t.put("sys/fs/cgroup/a/b/cpu.max", "max 100000\n");
  t.put("sys/fs/cgroup/a/cpu.max", "max 100000\n");
  t.put("sys/fs/cgroup/a/x/cpu.max", "100000 100000\n");
  NPZ_EXPECT(!npz::cgroup_cpu_quota(t.root(), &q));
}

NPZ_TEST(cpu_count_v1_cfs_quota) {
  Tree t;
  t.put("proc/self/cgroup", "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n");
  t.put("proc/self/mountinfo", kV1Mounts);
  t.put("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "250000\n");
  t.put("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  t.put("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
  t.put("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  npz::CgroupQuota q;
  NPZ_EXPECT(npz::cgroup_cpu_quota(t.root(), &q));
  NPZ_EXPECT(q.version == 1 && near(q.cpus, 2.5) && q.ceil == 3);
  NPZ_EXPECT(q.dir == "/sys/fs/cgroup/cpu,cpuacct/docker/abc");
  // -1 everywhere: no limit.
  t.put("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");
  NPZ_EXPECT(!npz::cgroup_cpu_quota(t.root(), &q));
  // A quota without its period file is not a limit we can compute.
  t.put("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "50000\n");
  fs::remove(fs::path(t.root()) / "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us");
  NPZ_EXPECT(!npz::cgroup_cpu_quota(t.root(), &q));
}

NPZ_TEST(cpu_count_namespaced_mount_root) {
  // Inside a container with a cgroup namespace the mount shows only the container's subtree:
  // mountinfo's root is /docker/abc and the process's cgroup path starts with it.
  Tree t;
  t.put("proc/self/cgroup", "0::/docker/abc\n");
  t.put("proc/self/mountinfo", "40 30 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  t.put("sys/fs/cgroup/cpu.max", "100000 100000\n");
  // The host-side name of our cgroup, seen below the namespaced mount, is another cgroup: not read.
  t.put("sys/fs/cgroup/docker/abc/cpu.max", "10000 100000\n");
  npz::CgroupQuota q;
  NPZ_EXPECT(npz::cgroup_cpu_quota(t.root(), &q) && q.ceil == 1 && near(q.cpus, 1.0));
  NPZ_EXPECT(q.dir == "/sys/fs/cgroup");
}

NPZ_TEST(cpu_count_escaped_mount_point) {
  Tree t;
  t.put("proc/self/cgroup", "0::/job\n");
  t.put("proc/self/mountinfo", "30 23 0:26 / /mnt/cg\\040two rw - cgroup2 none rw\n");
  t.put("mnt/cg two/job/cpu.max", "300000 100000\n");
  npz::CgroupQuota q;
  NPZ_EXPECT(npz::cgroup_cpu_quota(t.root(), &q) && q.ceil == 3 && q.dir == "/mnt/cg two/job");
}

NPZ_TEST(cpu_count_hybrid_prefers_v1_cpu_controller) {
  Tree t;
  t.put("proc/self/cgroup", "4:cpu,cpuacct:/slurm/job7\n0::/slurm/job7\n");
  t.put("proc/self/mountinfo",
        std::string(kV1Mounts) + "31 22 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
  t.put("sys/fs/cgroup/cpu,cpuacct/slurm/job7/cpu.cfs_quota_us", "100000\n");
  t.put("sys/fs/cgroup/cpu,cpuacct/slurm/job7/cpu.cfs_period_us", "100000\n");
  t.put("sys/fs/cgroup/unified/slurm/job7/cpu.max", "800000 100000\n");
  npz::CgroupQuota q;
  NPZ_EXPECT(npz::cgroup_cpu_quota(t.root(), &q) && q.version == 1 && q.ceil == 1);
}

NPZ_TEST(cpu_count_missing_files_are_no_limit) {
  npz::CgroupQuota q;
  {
    Tree t;  // empty root: no /proc/self/cgroup
    NPZ_EXPECT(!npz::cgroup_cpu_quota(t.root(), &q));
  }
  {
    Tree t;  // a cgroup but no cpu.max anywhere (cpu controller not enabled)
    t.put("proc/self/cgroup", "0::/a\n");
    t.put("proc/self/mountinfo", kV2Mount);
    t.put("sys/fs/cgroup/a/cgroup.procs", "1\n");
    NPZ_EXPECT(!npz::cgroup_cpu_quota(t.root(), &q));
  }
  {
    Tree t;  // no mountinfo: the usual v2 mount point is used
    t.put("proc/self/cgroup", "0::/a\n");
    t.put("sys/fs/cgroup/cgroup.controllers", "cpu memory\n");
    t.put("sys/fs/cgroup/a/cpu.max", "200000 100000\n");
    NPZ_EXPECT(npz::cgroup_cpu_quota(t.root(), &q) && q.ceil == 2);
  }
  {
    Tree t;  // mountinfo without any cgroup mount: no limit, whatever files lie around
    t.put("proc/self/cgroup", "0::/\n");
    t.put("proc/self/mountinfo", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n");
    t.put("sys/fs/cgroup/cpu.max", "100000 100000\n");
    NPZ_EXPECT(!npz::cgroup_cpu_quota(t.root(), &q));
  }
}

NPZ_TEST(cpu_count_malformed_values_are_no_limit) {
  Tree t;
  t.put("proc/self/cgroup", "0::/a\n");
  t.put("proc/self/mountinfo", kV2Mount);
  npz::CgroupQuota q;
  for (const char* text : {"abc 100000\n", "100000 0\n", "0 100000\n", "-5 100000\n", "100000\n",
                           "99999999999999999999999 100000\n", "18446744073709551617 1\n",
                           "100000 100000 7\n", "", "1e5 100000\n"}) {
    t.put("sys/fs/cgroup/a/cpu.max", text);
    const bool got = npz::cgroup_cpu_quota(t.root(), &q);
    if (got) std::fprintf(stderr, "  cpu.max %s gave a limit\n", text);
    NPZ_EXPECT(!got);
  }
  // Largest values still parse, and the CPU count saturates instead of wrapping.
  t.put("sys/fs/cgroup/a/cpu.max", "18446744073709551615 1\n");
  NPZ_EXPECT(npz::cgroup_cpu_quota(t.root(), &q) && q.ceil == 0xffffffffu);
  // A ".." in the cgroup path does not climb out of the mount.
  t.put("proc/self/cgroup", "0::/../../etc\n");
  t.put("sys/fs/cgroup/cpu.max", "max 100000\n");
  t.put("sys/etc/cpu.max", "100000 100000\n");
  NPZ_EXPECT(!npz::cgroup_cpu_quota(t.root(), &q));
}

NPZ_TEST(cpu_count_budget_takes_the_smaller) {
  const unsigned hw = std::thread::hardware_concurrency();
  {
    Tree t;  // a quota of half a CPU: 1 thread, decided by the quota
    t.put("proc/self/cgroup", "0::/\n");
    t.put("proc/self/mountinfo", kV2Mount);
    t.put("sys/fs/cgroup/cpu.max", "50000 100000\n");
    const npz::CpuBudget b = npz::cpu_budget(t.root());
    NPZ_EXPECT(b.cpus == 1);
    NPZ_EXPECT(b.has_quota && b.quota.ceil == 1);
    NPZ_EXPECT((std::string(b.source) == "cgroup-quota") == (b.affinity > 1));
  }
  {
    Tree t;  // a quota above the CPUs we have: the affinity mask decides
    t.put("proc/self/cgroup", "0::/\n");
    t.put("proc/self/mountinfo", kV2Mount);
    t.put("sys/fs/cgroup/cpu.max", "100000000 100000\n");  // 1000 CPUs
    const npz::CpuBudget b = npz::cpu_budget(t.root());
    NPZ_EXPECT(b.has_quota && b.quota.ceil == 1000);
    NPZ_EXPECT(b.affinity >= 1 && b.cpus == b.affinity);
    NPZ_EXPECT(std::string(b.source) != "cgroup-quota");
    NPZ_EXPECT(b.hardware == hw);
  }
  NPZ_EXPECT(npz::available_cpus() >= 1);
  NPZ_EXPECT(npz::available_cpus() <= (hw ? hw : 1u) || hw == 0);
}
