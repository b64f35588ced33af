// See cpu_count.h. Every file read here is small and kernel-written on a live system, but the
// parser treats it as untrusted text (the tests feed it fixture trees): reads are capped, numbers
// are parsed digit by digit with overflow checks, and anything unexpected means "no limit".
#include "cpu_count.h"

#include <fcntl.h>
#include <unistd.h>
#ifdef __linux__
#include <sched.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "small_file.h"

namespace npz {
namespace {

bool file_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t at = 0;
  for (;;) {
    const size_t k = s.find(sep, at);
    if (k == std::string::npos) {
      out.push_back(s.substr(at));
      return out;
    }
    out.push_back(s.substr(at, k - at));
    at = k + 1;
  }
}

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\n' || s[a] == '\r')) ++a;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\n' || s[b - 1] == '\r'))
    --b;
  return s.substr(a, b - a);
}

// Decimal digits only, no sign, no overflow.
bool parse_u64(const std::string& s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// mountinfo escapes space, tab, newline and backslash in paths as \ooo.
std::string unescape_octal(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool has_token(const std::string& list, const std::string& token) {
  for (const std::string& t : split(list, ',')) {
    if (t == token) return true;
  }
  return false;
}

struct Mount {
  std::string root;   // the directory of the hierarchy mounted there ("/" unless namespaced)
  std::string point;  // where it is mounted
};

struct Mounts {
  bool have_v1 = false, have_v2 = false;
  Mount v1, v2;
};

// Lines: "id parent major:minor root mountpoint options [optional...] - fstype source superopts".
Mounts parse_mountinfo(const std::string& text) {
  Mounts m;
  for (const std::string& line : split(text, '\n')) {
    const std::vector<std::string> f = split(line, ' ');
    size_t dash = 0;
    for (size_t i = 6; i < f.size(); ++i) {
      if (f[i] == "-") {
        dash = i;
        break;
      }
    }
    if (dash == 0 || f.size() < dash + 4) continue;
    const std::string& fstype = f[dash + 1];
    const std::string& superopts = f[dash + 3];
    Mount mt{unescape_octal(f[3]), unescape_octal(f[4])};
    if (fstype == "cgroup2" && !m.have_v2) {
      m.have_v2 = true;
      m.v2 = mt;
    } else if (fstype == "cgroup" && !m.have_v1 && has_token(superopts, "cpu")) {
      m.have_v1 = true;
      m.v1 = mt;
    }
  }
  return m;
}

// Paths in /proc/self/cgroup ("id:controllers:path").
struct ProcCgroup {
  bool have_v1 = false, have_v2 = false;
  std::string v1, v2;
};

ProcCgroup parse_proc_cgroup(const std::string& text) {
  ProcCgroup p;
  for (const std::string& line : split(text, '\n')) {
    const size_t c1 = line.find(':');
    if (c1 == std::string::npos) continue;
    const size_t c2 = line.find(':', c1 + 1);
    if (c2 == std::string::npos) continue;
    const std::string id = line.substr(0, c1);
    const std::string controllers = line.substr(c1 + 1, c2 - c1 - 1);
    const std::string path = line.substr(c2 + 1);
    if (path.empty() || path[0] != '/') continue;
    if (id == "0" && controllers.empty()) {
      p.have_v2 = true;
      p.v2 = path;
    } else if (!p.have_v1 && has_token(controllers, "cpu")) {
      p.have_v1 = true;
      p.v1 = path;
    }
  }
  return p;
}

// The directory of cgroup `path` under a mount: the mount's own root is stripped (cgroup
// namespaces and bind mounts of a sub-hierarchy show only the part below it). A path outside the
// mounted part, or one with "..", is taken to be the mount point itself.
std::string cgroup_dir(const Mount& mt, const std::string& path) {
  std::string rel = path;
  if (mt.root != "/" && !mt.root.empty()) {
    const bool inside = rel.compare(0, mt.root.size(), mt.root) == 0 &&
                        (rel.size() == mt.root.size() || rel[mt.root.size()] == '/');
    rel = inside ? rel.substr(mt.root.size()) : std::string();
  }
  for (const std::string& part : split(rel, '/')) {
    if (part == "..") return mt.point;
  }
  std::string dir = mt.point;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (!rel.empty() && rel != "/") dir += (rel[0] == '/' ? "" : "/") + rel;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

std::string under(const std::string& root, const std::string& abs) {
  std::string r = root;
  while (!r.empty() && r.back() == '/') r.pop_back();
  return r + abs;
}

// quota/period of one cgroup directory; false when unlimited or unreadable.
bool level_quota(const std::string& root, const std::string& dir, int version, uint64_t* quota,
                 uint64_t* period) {
  std::string text;
  if (version == 2) {
    if (!read_small_file(under(root, dir + "/cpu.max"), &text)) return false;
    const std::vector<std::string> f = split(trim(text), ' ');
    if (f.size() != 2 || f[0] == "max") return false;
    if (!parse_u64(f[0], quota) || !parse_u64(f[1], period)) return false;
  } else {
    if (!read_small_file(under(root, dir + "/cpu.cfs_quota_us"), &text)) return false;
    const std::string q = trim(text);
    if (q == "-1" || !parse_u64(q, quota)) return false;
    if (!read_small_file(under(root, dir + "/cpu.cfs_period_us"), &text)) return false;
    if (!parse_u64(trim(text), period)) return false;
  }
  return *quota > 0 && *period > 0;
}

// Smallest quota on the path from `dir` up to the mount point.
bool walk_quota(const std::string& root, const std::string& point, std::string dir, int version,
                CgroupQuota* out) {
  std::string mount = point;
  while (mount.size() > 1 && mount.back() == '/') mount.pop_back();
  bool found = false;
  for (;;) {
    uint64_t q = 0, p = 0;
    if (level_quota(root, dir, version, &q, &p)) {
      const double cpus = static_cast<double>(q) / static_cast<double>(p);
      if (!found || cpus < out->cpus) {
        found = true;
        out->cpus = cpus;
        const uint64_t c = q / p + (q % p != 0 ? 1 : 0);
        out->ceil = static_cast<unsigned>(
            std::max<uint64_t>(1, std::min<uint64_t>(c, std::numeric_limits<unsigned>::max())));
        out->version = version;
        out->dir = dir;
      }
    }
    if (dir.size() <= mount.size()) break;
    const size_t slash = dir.rfind('/');
    if (slash == std::string::npos) break;
    std::string up = slash == 0 ? std::string("/") : dir.substr(0, slash);
    if (up == dir) break;  // "/" (an empty mount point) has no parent: no progress, stop
    dir = std::move(up);
    if (dir.size() < mount.size()) break;
  }
  return found;
}

unsigned affinity_cpus() {
#ifdef __linux__
  for (int n = 1024; n <= (1 << 18); n *= 2) {
    std::unique_ptr<cpu_set_t, void (*)(cpu_set_t*)> set(CPU_ALLOC(n),
                                                         [](cpu_set_t* s) { CPU_FREE(s); });
    if (!set) return 0;
    const size_t size = CPU_ALLOC_SIZE(n);
    CPU_ZERO_S(size, set.get());
    if (::sched_getaffinity(0, size, set.get()) == 0) {
      const int c = CPU_COUNT_S(size, set.get());
      return c > 0 ? static_cast<unsigned>(c) : 0;
    }
    if (errno != EINVAL) return 0;  // EINVAL: the kernel's mask is larger than n CPUs
  }
#endif
  return 0;
}

}  // namespace

bool cgroup_cpu_quota(const std::string& root, CgroupQuota* out) {
  std::string text;
  if (!read_small_file(under(root, "/proc/self/cgroup"), &text)) return false;
  const ProcCgroup pc = parse_proc_cgroup(text);
  Mounts mounts;
  if (read_small_file(under(root, "/proc/self/mountinfo"), &text)) {
    mounts = parse_mountinfo(text);
  } else {
    // No mountinfo (minimal containers, fixtures): the usual mount points.
    if (file_exists(under(root, "/sys/fs/cgroup/cgroup.controllers"))) {
      mounts.have_v2 = true;
      mounts.v2 = {"/", "/sys/fs/cgroup"};
    }
    if (file_exists(under(root, "/sys/fs/cgroup/cpu"))) {
      mounts.have_v1 = true;
      mounts.v1 = {"/", "/sys/fs/cgroup/cpu"};
    }
  }
  CgroupQuota q;
  bool found = false;
  // Hybrid hosts mount the cpu controller on v1 and an empty v2 tree: v1 first when it has it.
  if (pc.have_v1 && mounts.have_v1) {
    found = walk_quota(root, mounts.v1.point, cgroup_dir(mounts.v1, pc.v1), 1, &q);
  }
  if (!found && pc.have_v2 && mounts.have_v2) {
    found = walk_quota(root, mounts.v2.point, cgroup_dir(mounts.v2, pc.v2), 2, &q);
  }
  if (found) *out = q;
  return found;
}

CpuBudget cpu_budget(const std::string& root) {
  CpuBudget b;
  b.hardware = std::thread::hardware_concurrency();
  b.affinity = affinity_cpus();
  unsigned usable = b.affinity ? b.affinity : b.hardware;
  if (usable == 0) usable = 1;
  b.source = b.affinity && b.hardware && b.affinity < b.hardware ? "affinity" : "hardware";
  b.has_quota = cgroup_cpu_quota(root, &b.quota);
  if (b.has_quota && b.quota.ceil < usable) {
    usable = b.quota.ceil;
    b.source = "cgroup-quota";
  }
  b.cpus = usable;
  return b;
}

unsigned available_cpus() {
  static const unsigned n = cpu_budget("/").cpus;
  return n;
}

}  // namespace npz
