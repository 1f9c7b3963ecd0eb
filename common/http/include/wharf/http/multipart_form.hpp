// multipart/form-data (RFC 7578) read as it arrives: a sans-io pull parser. Bytes go in with
// feed(); next() gives the parts' heads, their data in pieces and their ends. Only the bytes that
// might be the start of a boundary are kept between calls, so a part of any size passes through
// in the memory of the chunks fed in. Part heads are bounded (max_head_bytes), so is the number of
// parts; a body that stops before its closing boundary is an error, not a short file.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace wharf::http {

// The boundary of a "multipart/form-data; boundary=..." Content-Type (quoted or not; 1 to 70
// characters of RFC 2046's set), or nullopt with `why` set.
std::optional<std::string> form_boundary(std::string_view content_type, std::string* why = nullptr);

struct form_part_head {
    std::string name;                     // Content-Disposition's name
    std::optional<std::string> filename;  // as sent (not sanitised): a file field
    std::string content_type;             // "text/plain" when absent (RFC 7578 4.4)
};

struct multipart_limits {
    std::size_t max_head_bytes = 8 << 10;  // one part's headers
    std::size_t max_parts = 32;
};

class multipart_parser {
public:

    enum class event_kind {
        need_more,   // feed() more, or end_of_input()
        part_begin,  // head() is the part's
        data,        // data() is the next piece of the current part
        part_end,
        done,        // the closing boundary was read (what follows it is ignored)
        error,       // error() says why; the parser stays in this state
    };

    explicit multipart_parser(std::string boundary, multipart_limits limits = {});

    // Appends bytes. Views from earlier events are invalid afterwards.
    void feed(std::string_view bytes);
    // No more bytes will come: a parse that has not reached its closing boundary becomes an error.
    void end_of_input();
    event_kind next();

    const form_part_head& head() const noexcept { return head_; }
    std::string_view data() const noexcept { return data_; }
    const std::string& error() const noexcept { return error_; }

private:
    enum class state { preamble, after_delimiter, head, body, epilogue, failed };
    event_kind fail(std::string why);
    std::optional<std::string> parse_head(std::string_view text);

    std::string delimiter_;  // "\r\n--" + boundary
    multipart_limits limits_;
    std::string buffer_;
    std::size_t pos_ = 0;
    state state_ = state::preamble;
    bool ended_ = false;
    std::size_t parts_ = 0;
    form_part_head head_;
    std::string_view data_;
    std::string error_;
};

}  // namespace wharf::http
