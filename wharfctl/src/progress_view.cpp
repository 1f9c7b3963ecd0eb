#include "progress_view.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace wharfctl {

display display::for_stdout() {
    display d;
    d.tty = ::isatty(STDOUT_FILENO) != 0;
    const char* no_color = std::getenv("NO_COLOR");
    d.color = d.tty && (no_color == nullptr || *no_color == '\0');
    return d;
}

std::string bar(double fraction, std::size_t width) {
    fraction = std::clamp(std::isfinite(fraction) ? fraction : 0.0, 0.0, 1.0);
    const auto full = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(width)));
    return "[" + std::string(full, '#') + std::string(width - full, '.') + "]";
}

std::string human_bytes(double bytes) {
    static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
    return buf;
}

std::string human_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    const auto s = static_cast<long long>(std::llround(seconds));
    char buf[32];
    if (s < 60) std::snprintf(buf, sizeof buf, "%llds", s);
    else if (s < 3600) std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
    return buf;
}

std::string status_word(const std::string& status, const display& d) {
    if (!d.color) return status;
    const char* code = nullptr;
    if (status == "succeeded") code = "32";
    else if (status == "failed" || status == "dead") code = "31";
    else if (status == "cancelled" || status == "cleaned_up") code = "33";
    else if (status == "running") code = "36";
    if (!code) return status;
    return std::string("\x1b[") + code + "m" + status + "\x1b[0m";
}

namespace {

double number(const nlohmann::json& j, const char* key, double fallback = NAN) {
    if (!j.is_object()) return fallback;
    const auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

std::string fixed(double v, int decimals) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

}  // namespace

std::string describe_progress(const nlohmann::json& progress, std::optional<progress_sample>& previous,
                              std::chrono::steady_clock::time_point now, const display& d) {
    if (!progress.is_object()) return "";
    const std::string phase = progress.value("phase", std::string());
    const double done = number(progress, "done");
    const double total = number(progress, "total");
    const double percent = number(progress, "percent");
    std::string out = phase.empty() ? std::string() : phase + "  ";
    if (std::isfinite(done)) {
        // A transfer: bytes, rate (reported, or from the previous sample), ETA.
        double rate = number(progress, "bytes_per_second");
        if (!std::isfinite(rate) && previous && now > previous->at && done >= previous->done)
            rate = (done - previous->done) / std::chrono::duration<double>(now - previous->at).count();
        if (!previous || done != previous->done) previous = progress_sample{now, done};
        const bool known_total = std::isfinite(total) && total > 0;
        if (d.tty && known_total) out = bar(done / total, 24) + " " + out;
        out += human_bytes(done);
        if (known_total) out += " / " + human_bytes(total) + "  " + fixed(100.0 * done / total, 0) + "%";
        if (std::isfinite(rate) && rate > 0) {
            out += "  " + human_bytes(rate) + "/s";
            if (known_total && total > done) out += "  ETA " + human_duration((total - done) / rate);
        }
        return out;
    }
    if (std::isfinite(percent)) {
        // A transcode (or anything that reports a percentage): percent, fps, speed.
        if (d.tty) out = bar(percent / 100.0, 24) + " " + out;
        out += fixed(percent, 1) + "%";
        if (const double fps = number(progress, "fps"); std::isfinite(fps)) out += "  " + fixed(fps, 0) + " fps";
        if (const double speed = number(progress, "speed"); std::isfinite(speed)) out += "  " + fixed(speed, 2) + "x";
        return out;
    }
    return out.empty() ? progress.dump() : out + progress.dump();
}

}  // namespace wharfctl
