#include "wharf/storage/stats_report.hpp"

#include <algorithm>
#include <cmath>

namespace wharf::storage {

namespace {

double round2(double v) { return std::round(v * 100.0) / 100.0; }
double gib(std::uint64_t bytes) { return round2(static_cast<double>(bytes) / static_cast<double>(1ull << 30)); }

}  // namespace

nlohmann::json stats_report(std::vector<provider_stats> rows, const std::vector<provider_config>& configured) {
    for (const auto& pc : configured) {
        const bool known = std::any_of(rows.begin(), rows.end(), [&](const auto& r) { return r.provider == pc.name; });
        if (!known) rows.push_back(provider_stats{pc.name, 0, 0, pc.limit_bytes, false, false, ""});
    }
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.provider < b.provider; });
    nlohmann::json providers = nlohmann::json::array();
    std::uint64_t total = 0, files = 0;
    for (const auto& r : rows) {
        const std::uint64_t available = r.limit_bytes > r.total_bytes ? r.limit_bytes - r.total_bytes : 0;
        providers.push_back({{"provider", r.provider},
                             {"total_size_bytes", r.total_bytes},
                             {"total_size_gb", gib(r.total_bytes)},
                             {"file_count", r.file_count},
                             {"available_bytes", available},
                             {"available_gb", gib(available)},
                             {"used_percentage",
                              r.limit_bytes ? round2(100.0 * static_cast<double>(r.total_bytes) /
                                                     static_cast<double>(r.limit_bytes))
                                            : 100.0},
                             {"is_full", r.is_full},
                             {"last_updated", r.last_updated.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.last_updated)}});
        total += r.total_bytes;
        files += r.file_count;
    }
    return {{"providers", providers},
            {"total_size_bytes", total},
            {"total_size_gb", gib(total)},
            {"total_file_count", files}};
}

}  // namespace wharf::storage
