// How `wharfctl status --watch` and `wharfctl queues --watch` draw: pure text from a job's
// progress JSON and the previous sample (for rates and ETAs), bars only on a terminal.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace wharfctl {

struct display {
    bool tty = false;    // redraw in place, with bars
    bool color = false;  // tty and NO_COLOR unset
    static display for_stdout();
};

// One progress sample of a job, kept between reads to compute a rate where the worker reports
// none (uploads report bytes done only).
struct progress_sample {
    std::chrono::steady_clock::time_point at;
    double done = 0;
};

// "upload  12.0 MiB / 36.0 MiB  33%  5.1 MiB/s  ETA 5s" (transfers), "encode  45.2%  120 fps
// 4.1x" (transcodes), with a bar in front on a terminal; "" when the JSON says nothing known.
std::string describe_progress(const nlohmann::json& progress, std::optional<progress_sample>& previous,
                              std::chrono::steady_clock::time_point now, const display& d);

std::string bar(double fraction, std::size_t width);
std::string human_bytes(double bytes);
std::string human_duration(double seconds);
// A status word, colored on a terminal when color is on (green succeeded, red failed/dead,
// yellow cancelled).
std::string status_word(const std::string& status, const display& d);

}  // namespace wharfctl
