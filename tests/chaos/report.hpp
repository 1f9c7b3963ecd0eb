// The soak's report: one line per check with PASS/FAIL and its figures, and the pure RSS-growth
// rule (early vs late samples of a long-lived worker).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace wharf::chaos {

struct check_result {
    std::string name;
    bool passed = false;
    std::vector<std::string> details;  // figures, and the first offenders on failure
};

class report {
public:
    check_result& add(std::string name);
    bool all_passed() const;
    void print(std::ostream& out) const;

private:
    std::vector<check_result> checks_;
};

struct rss_sample {
    std::chrono::milliseconds at{0};  // since the worker started
    std::uint64_t rss_kib = 0;        // VmRSS
    std::uint64_t anon_kib = 0;       // RssAnon: the heap, where a leak shows (file pages do not count)
};

struct rss_verdict {
    bool judged = false;  // enough samples in both windows
    bool flat = false;
    std::uint64_t early_anon_kib = 0, late_anon_kib = 0, early_rss_kib = 0, late_rss_kib = 0;
    std::uint64_t allowed_kib = 0;  // late may exceed early by this much
};

// Medians of the samples in [warmup, warmup + window) and in the last `window` of the samples;
// flat when the late RssAnon is at most the early one plus max(slack_kib, slack_ratio * early).
// Not judged when the windows overlap or one is empty (a worker that did not live long enough).
rss_verdict judge_rss(const std::vector<rss_sample>& samples, std::chrono::milliseconds warmup,
                      std::chrono::milliseconds window, std::uint64_t slack_kib = 20 * 1024, double slack_ratio = 0.25);

}  // namespace wharf::chaos
