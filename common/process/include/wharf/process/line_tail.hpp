// The last lines of a byte stream (a child's stderr), bounded in count and in bytes per line: a
// line longer than the limit is cut (and marked), so a child that writes megabytes without a
// newline costs a few KiB. Pure.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::process {

class line_tail {
public:
    explicit line_tail(std::size_t max_lines = 20, std::size_t max_line_bytes = 1000)
        : max_lines_(max_lines == 0 ? 1 : max_lines), max_line_bytes_(max_line_bytes == 0 ? 1 : max_line_bytes) {}

    void feed(std::string_view bytes);
    // The kept lines, oldest first, with the unfinished last line if any. Carriage returns
    // (ffmpeg's status line) end a line too; empty lines are not kept.
    std::vector<std::string> lines() const;
    // lines() joined with "; " -- for an error message.
    std::string joined() const;

private:
    void end_line();

    std::size_t max_lines_, max_line_bytes_;
    std::deque<std::string> lines_;
    std::string current_;
    bool cut_ = false;
};

}  // namespace wharf::process
