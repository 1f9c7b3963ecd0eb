#include "wharf/http/multipart_form.hpp"

#include "wharf/core/text.hpp"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

namespace wharf::http {

namespace {

bool is_token_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
    return std::string_view("()<>@,;:\\\"/[]?={}").find(c) == std::string_view::npos;
}

// `; name=value` parameters after a media type or disposition type. A value is a token or a
// quoted-string (backslash escapes). nullopt when malformed.
std::optional<std::vector<std::pair<std::string, std::string>>> parameters(std::string_view s) {
    std::vector<std::pair<std::string, std::string>> out;
    while (true) {
        s = trim_ows(s);
        if (s.empty()) return out;
        if (s.front() != ';') return std::nullopt;
        s.remove_prefix(1);
        s = trim_ows(s);
        if (s.empty()) return out;  // a trailing ';'
        std::size_t n = 0;
        while (n < s.size() && is_token_char(s[n])) ++n;
        if (n == 0 || n >= s.size() || s[n] != '=') return std::nullopt;
        std::string name(s.substr(0, n));
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        s.remove_prefix(n + 1);
        std::string value;
        if (!s.empty() && s.front() == '"') {
            std::size_t i = 1;
            bool closed = false;
            for (; i < s.size(); ++i) {
                if (s[i] == '\\' && i + 1 < s.size()) {
                    value += s[++i];
                } else if (s[i] == '"') {
                    closed = true;
                    break;
                } else {
                    value += s[i];
                }
            }
            if (!closed) return std::nullopt;
            s.remove_prefix(i + 1);
        } else {
            std::size_t m = 0;
            while (m < s.size() && is_token_char(s[m])) ++m;
            if (m == 0) return std::nullopt;
            value = std::string(s.substr(0, m));
            s.remove_prefix(m);
        }
        out.emplace_back(std::move(name), std::move(value));
    }
}

}  // namespace

std::optional<std::string> form_boundary(std::string_view content_type, std::string* why) {
    const auto set_why = [why](const char* text) {
        if (why) *why = text;
        return std::nullopt;
    };
    const auto semi = content_type.find(';');
    if (!iequals(trim_ows(content_type.substr(0, semi)), "multipart/form-data"))
        return set_why("the Content-Type must be multipart/form-data");
    if (semi == std::string_view::npos) return set_why("the Content-Type has no boundary");
    const auto params = parameters(content_type.substr(semi));
    if (!params) return set_why("the Content-Type's parameters are malformed");
    for (const auto& [name, value] : *params) {
        if (name != "boundary") continue;
        // RFC 2046 bchars: DIGIT / ALPHA / "'()+_,-./:=? " and space (not last).
        static constexpr std::string_view specials = "'()+_,-./:=? ";
        const bool ok = !value.empty() && value.size() <= 70 && value.back() != ' ' &&
                        std::all_of(value.begin(), value.end(), [](char c) {
                            return std::isalnum(static_cast<unsigned char>(c)) ||
                                   specials.find(c) != std::string_view::npos;
                        });
        if (!ok) return set_why("the boundary must be 1 to 70 characters of RFC 2046's set");
        return value;
    }
    return set_why("the Content-Type has no boundary");
}

multipart_parser::multipart_parser(std::string boundary, multipart_limits limits)
    : delimiter_("\r\n--" + boundary), limits_(limits), buffer_("\r\n") {
    // The leading "\r\n" lets the first boundary line (which has none before it) be found like
    // every other delimiter.
}

void multipart_parser::feed(std::string_view bytes) {
    if (pos_ > 0) {
        buffer_.erase(0, pos_);
        pos_ = 0;
    }
    buffer_.append(bytes);
    data_ = {};
}

void multipart_parser::end_of_input() { ended_ = true; }

multipart_parser::event_kind multipart_parser::fail(std::string why) {
    state_ = state::failed;
    error_ = std::move(why);
    data_ = {};
    return event_kind::error;
}

std::optional<std::string> multipart_parser::parse_head(std::string_view text) {
    form_part_head head;
    bool disposition = false;
    while (!text.empty()) {
        const auto eol = text.find("\r\n");
        const std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 2);
        if (line.empty()) continue;
        if (line.front() == ' ' || line.front() == '\t') return "a folded part header";
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) return "a part header without a name";
        const auto name = line.substr(0, colon);
        if (!std::all_of(name.begin(), name.end(), is_token_char)) return "a part header with a bad name";
        const auto value = trim_ows(line.substr(colon + 1));
        if (std::any_of(value.begin(), value.end(), [](char c) {
                const auto u = static_cast<unsigned char>(c);
                return (u < 0x20 && c != '\t') || u == 0x7f;
            }))
            return "a control character in a part header";
        if (iequals(name, "Content-Disposition")) {
            if (disposition) return "two Content-Disposition headers in a part";
            disposition = true;
            const auto semi = value.find(';');
            if (!iequals(trim_ows(value.substr(0, semi)), "form-data")) return "a part whose disposition is not form-data";
            if (semi == std::string_view::npos) return "a part without a name";
            const auto params = parameters(value.substr(semi));
            if (!params) return "a malformed Content-Disposition";
            bool named = false;
            for (const auto& [k, v] : *params) {
                if (k == "name") {
                    head.name = v;
                    named = true;
                } else if (k == "filename") {
                    head.filename = v;
                }
            }
            if (!named || head.name.empty()) return "a part without a name";
        } else if (iequals(name, "Content-Type")) {
            head.content_type = std::string(value);
        }
    }
    if (!disposition) return "a part without a Content-Disposition";
    if (head.content_type.empty()) head.content_type = "text/plain";
    head_ = std::move(head);
    return std::nullopt;
}

multipart_parser::event_kind multipart_parser::next() {
    data_ = {};
    const std::string_view buf(buffer_);
    switch (state_) {
    case state::failed: return event_kind::error;
    case state::epilogue: return event_kind::done;
    case state::preamble: {
        const auto at = buf.find(delimiter_, pos_);
        if (at == std::string_view::npos) {
            // Keep what might be the start of the delimiter.
            if (buf.size() - pos_ >= delimiter_.size()) pos_ = buf.size() - (delimiter_.size() - 1);
            return ended_ ? fail("the body has no boundary line") : event_kind::need_more;
        }
        pos_ = at + delimiter_.size();
        state_ = state::after_delimiter;
        return next();
    }
    case state::after_delimiter: {
        // Transport padding (RFC 2046) may follow a boundary before its line ends.
        std::size_t i = pos_;
        while (i < buf.size() && (buf[i] == ' ' || buf[i] == '\t') && i - pos_ < 64) ++i;
        if (i - pos_ >= 64) return fail("a boundary line with too much padding");
        if (buf.size() - i < 2) return ended_ ? fail("the body ends inside a boundary line") : event_kind::need_more;
        if (buf.substr(i, 2) == "--") {
            pos_ = buf.size();
            state_ = state::epilogue;
            return event_kind::done;
        }
        if (buf.substr(i, 2) != "\r\n") return fail("a boundary line followed by other text");
        pos_ = i;  // the head starts with this CRLF, so an empty head is "\r\n\r\n"
        state_ = state::head;
        return next();
    }
    case state::head: {
        const auto end = buf.find("\r\n\r\n", pos_);
        if (end == std::string_view::npos) {
            if (buf.size() - pos_ > limits_.max_head_bytes + 4) return fail("a part's headers are too large");
            return ended_ ? fail("the body ends inside a part's headers") : event_kind::need_more;
        }
        if (end - pos_ > limits_.max_head_bytes) return fail("a part's headers are too large");
        if (++parts_ > limits_.max_parts) return fail("more than " + std::to_string(limits_.max_parts) + " parts");
        const std::string_view text = end == pos_ ? std::string_view{} : buf.substr(pos_ + 2, end - pos_ - 2);
        if (auto why = parse_head(text)) return fail(std::move(*why));
        pos_ = end + 4;
        state_ = state::body;
        return event_kind::part_begin;
    }
    case state::body: {
        const auto at = buf.find(delimiter_, pos_);
        if (at == pos_) {
            pos_ += delimiter_.size();
            state_ = state::after_delimiter;
            return event_kind::part_end;
        }
        std::size_t until = at;
        if (at == std::string_view::npos) {
            // Everything but a tail that could be the delimiter's beginning is the part's.
            const std::size_t keep = delimiter_.size() - 1;
            until = buf.size() > pos_ + keep ? buf.size() - keep : pos_;
            if (until == pos_) return ended_ ? fail("the body ends inside a part") : event_kind::need_more;
        }
        data_ = buf.substr(pos_, until - pos_);
        pos_ = until;
        return event_kind::data;
    }
    }
    return event_kind::error;
}

}  // namespace wharf::http
