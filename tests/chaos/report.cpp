// The soak's report and the RSS rule.
#include "report.hpp"

#include <algorithm>

namespace wharf::chaos {

check_result& report::add(std::string name) {
    checks_.push_back({std::move(name), false, {}});
    return checks_.back();
}

bool report::all_passed() const {
    return !checks_.empty() && std::all_of(checks_.begin(), checks_.end(), [](const auto& c) { return c.passed; });
}

void report::print(std::ostream& out) const {
    for (const auto& c : checks_) {
        out << (c.passed ? "PASS  " : "FAIL  ") << c.name << "\n";
        for (const auto& d : c.details) out << "        " << d << "\n";
    }
    const auto failed = std::count_if(checks_.begin(), checks_.end(), [](const auto& c) { return !c.passed; });
    out << (failed == 0 ? "ALL CHECKS PASSED" : std::to_string(failed) + " CHECK(S) FAILED") << " (" << checks_.size()
        << " checks)\n";
}

namespace {

template <class F>
std::uint64_t median_of(std::vector<rss_sample> v, F field) {
    std::sort(v.begin(), v.end(), [&](const auto& a, const auto& b) { return field(a) < field(b); });
    return field(v[v.size() / 2]);
}

}  // namespace

rss_verdict judge_rss(const std::vector<rss_sample>& samples, std::chrono::milliseconds warmup,
                      std::chrono::milliseconds window, std::uint64_t slack_kib, double slack_ratio) {
    rss_verdict v;
    if (samples.empty()) return v;
    const auto last = samples.back().at;
    const auto late_from = last - window;
    if (late_from < warmup + window) return v;  // the windows would overlap
    std::vector<rss_sample> early, late;
    for (const auto& s : samples) {
        if (s.at >= warmup && s.at < warmup + window) early.push_back(s);
        if (s.at >= late_from) late.push_back(s);
    }
    if (early.size() < 3 || late.size() < 3) return v;
    v.judged = true;
    v.early_anon_kib = median_of(early, [](const rss_sample& s) { return s.anon_kib; });
    v.late_anon_kib = median_of(late, [](const rss_sample& s) { return s.anon_kib; });
    v.early_rss_kib = median_of(early, [](const rss_sample& s) { return s.rss_kib; });
    v.late_rss_kib = median_of(late, [](const rss_sample& s) { return s.rss_kib; });
    v.allowed_kib = std::max<std::uint64_t>(slack_kib, static_cast<std::uint64_t>(slack_ratio * v.early_anon_kib));
    v.flat = v.late_anon_kib <= v.early_anon_kib + v.allowed_kib;
    return v;
}

}  // namespace wharf::chaos
