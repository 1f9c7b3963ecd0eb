#include "wharf/metrics/process.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>

namespace wharf::metrics {

namespace {

struct proc_stat {
    double cpu_seconds = 0, start_seconds_after_boot = 0;
    double virtual_bytes = 0, resident_bytes = 0;
    bool ok = false;
};

// /proc/self/stat: fields after the parenthesised command name (which may hold spaces).
proc_stat read_stat() {
    proc_stat s;
    std::ifstream in("/proc/self/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    if (close == std::string::npos) return s;
    std::istringstream fields(text.substr(close + 2));
    std::string f[22];
    for (auto& x : f)
        if (!(fields >> x)) return s;
    // After the name: state(3) ... utime(14) stime(15) ... starttime(22) vsize(23) rss(24),
    // numbered as in proc(5); f[0] is field 3.
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    std::string vsize, rss;
    fields >> vsize >> rss;
    try {
        s.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
        s.start_seconds_after_boot = std::stod(f[19]) / ticks;
        s.virtual_bytes = std::stod(vsize);
        s.resident_bytes = std::stod(rss) * static_cast<double>(::sysconf(_SC_PAGESIZE));
        s.ok = true;
    } catch (const std::exception&) {
    }
    return s;
}

double boot_time_seconds() {
    std::ifstream in("/proc/stat");
    std::string key;
    double value = 0;
    while (in >> key) {
        if (key == "btime" && (in >> value)) return value;
        in.ignore(1 << 20, '\n');
    }
    return 0;
}

double open_fds() {
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) return 0;
    double n = 0;
    while (const dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') ++n;
    ::closedir(d);
    return n - 1;  // the descriptor opendir itself holds
}

}  // namespace

void register_process_metrics(registry& r) {
    auto& cpu = r.counters("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.").with({});
    auto& rss = r.gauges("process_resident_memory_bytes", "Resident memory size in bytes.").with({});
    auto& vsz = r.gauges("process_virtual_memory_bytes", "Virtual memory size in bytes.").with({});
    auto& fds = r.gauges("process_open_fds", "Number of open file descriptors.").with({});
    auto& max_fds = r.gauges("process_max_fds", "Maximum number of open file descriptors.").with({});
    auto& start = r.gauges("process_start_time_seconds", "Start time of the process since unix epoch in seconds.")
                      .with({});
    const double boot = boot_time_seconds();
    r.add_collector("process", [&cpu, &rss, &vsz, &fds, &max_fds, &start, boot] {
        const auto s = read_stat();
        if (s.ok) {
            // A counter only goes up: add what was used since the last render.
            if (s.cpu_seconds > cpu.value()) cpu.inc(s.cpu_seconds - cpu.value());
            rss.set(s.resident_bytes);
            vsz.set(s.virtual_bytes);
            start.set(boot + s.start_seconds_after_boot);
        }
        fds.set(open_fds());
        rlimit lim{};
        if (::getrlimit(RLIMIT_NOFILE, &lim) == 0)
            max_fds.set(lim.rlim_cur == RLIM_INFINITY ? -1 : static_cast<double>(lim.rlim_cur));
    });
}

}  // namespace wharf::metrics
