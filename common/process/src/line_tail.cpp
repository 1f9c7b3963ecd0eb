// The last lines of a stream (see line_tail.hpp).
#include "wharf/process/line_tail.hpp"

namespace wharf::process {

void line_tail::feed(std::string_view bytes) {
    for (char c : bytes) {
        if (c == '\n' || c == '\r') {
            end_line();
            continue;
        }
        if (current_.size() < max_line_bytes_) current_ += c;
        else cut_ = true;
    }
}

void line_tail::end_line() {
    if (current_.empty()) {
        cut_ = false;
        return;
    }
    if (cut_) current_ += " [...]";
    lines_.push_back(std::move(current_));
    current_.clear();
    cut_ = false;
    while (lines_.size() > max_lines_) lines_.pop_front();
}

std::vector<std::string> line_tail::lines() const {
    std::vector<std::string> out(lines_.begin(), lines_.end());
    if (!current_.empty()) out.push_back(cut_ ? current_ + " [...]" : current_);
    if (out.size() > max_lines_) out.erase(out.begin());
    return out;
}

std::string line_tail::joined() const {
    std::string out;
    for (const auto& l : lines()) {
        if (!out.empty()) out += "; ";
        out += l;
    }
    return out;
}

}  // namespace wharf::process
