// ffmpeg's `-progress` output: blocks of key=value lines, each ended by progress=continue or
// progress=end, read incrementally from chunks cut anywhere. Pure and bounded: a line longer than
// max_line is dropped (and counted), a block with more than max_keys keys keeps the first ones,
// values that do not parse are left out, and memory never grows past max_line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::media {

struct progress_block {
    std::optional<std::int64_t> out_time_us;  // out_time_us, else out_time_ms (ffmpeg prints µs there too), else out_time
    std::optional<std::int64_t> frame;
    std::optional<double> fps;
    std::optional<double> speed;  // "1.5x"
    std::optional<std::int64_t> total_size;
    bool end = false;  // progress=end: ffmpeg finished writing every output
    friend bool operator==(const progress_block&, const progress_block&) = default;
};

struct progress_limits {
    std::size_t max_line = 1024;
    std::size_t max_keys = 256;
};

class progress_parser {
public:
    explicit progress_parser(progress_limits limits = {}) : limits_(limits) {}

    // Feeds bytes; returns the blocks completed by them, in order.
    std::vector<progress_block> feed(std::string_view chunk);

    std::size_t dropped_lines() const noexcept { return dropped_lines_; }
    bool ended() const noexcept { return ended_; }  // a progress=end block was seen

private:
    void line(std::string_view l, std::vector<progress_block>& out);

    progress_limits limits_;
    std::string partial_;
    bool overlong_ = false;  // discarding the rest of a line that was too long
    progress_block current_;
    std::size_t keys_ = 0;
    std::size_t dropped_lines_ = 0;
    bool ended_ = false;
};

// "00:01:02.500000" -> 62500000; nullopt for anything else (ffmpeg prints negative or "N/A"
// before the first packet).
std::optional<std::int64_t> parse_out_time(std::string_view hms);

// Percent (0..100) of `duration_s` that out_time covers; 100 once ended.
double progress_percent(const progress_block& b, double duration_s);

}  // namespace wharf::media
