// parse_json: nlohmann's SAX DOM builder behind a depth gate, so the limit holds before any
// value is built, and every failure (syntax, number overflow, depth, size) comes back as text.
#include "wharf/core/json.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace wharf {
namespace {

using json = nlohmann::json;

class limited_dom_builder {
public:
    limited_dom_builder(json& root, std::size_t max_depth)
        : dom_{root, /*allow_exceptions=*/false}, max_depth_{max_depth} {}

    bool null() { return dom_.null(); }
    bool boolean(bool v) { return dom_.boolean(v); }
    bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
    bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
    bool number_float(json::number_float_t v, const json::string_t& s) { return dom_.number_float(v, s); }
    bool string(json::string_t& v) { return dom_.string(v); }
    bool binary(json::binary_t& v) { return dom_.binary(v); }
    bool key(json::string_t& v) { return dom_.key(v); }
    bool start_object(std::size_t n) { return enter() && dom_.start_object(n); }
    bool end_object() {
        --depth_;
        return dom_.end_object();
    }
    bool start_array(std::size_t n) { return enter() && dom_.start_array(n); }
    bool end_array() {
        --depth_;
        return dom_.end_array();
    }
    bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) {
        std::string what = ex.what();
        // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." -> drop the tag.
        if (auto at = what.find("] "); at != std::string::npos) what.erase(0, at + 2);
        error_ = fmt::format("{} (at byte {})", what, position);
        return false;
    }

    const std::string& error() const noexcept { return error_; }
    bool too_deep() const noexcept { return too_deep_; }

private:
    bool enter() {
        if (++depth_ > max_depth_) {
            too_deep_ = true;
            error_ = fmt::format("nested deeper than {} levels", max_depth_);
            return false;
        }
        return true;
    }

    nlohmann::detail::json_sax_dom_parser<json> dom_;
    std::size_t max_depth_;
    std::size_t depth_ = 0;
    std::string error_;
    bool too_deep_ = false;
};

}  // namespace

parsed_json parse_json(std::string_view text, const json_limits& limits) {
    parsed_json out;
    if (text.size() > limits.max_bytes) {
        out.error = fmt::format("larger than {} bytes", limits.max_bytes);
        out.why = parsed_json::failure::too_large;
        out.value = json(json::value_t::discarded);
        return out;
    }
    limited_dom_builder builder{out.value, limits.max_depth};
    bool ok = false;
    try {
        ok = json::sax_parse(text, &builder, json::input_format_t::json, /*strict=*/true);
    } catch (const std::exception& e) {  // not expected with allow_exceptions=false; kept total
        out.error = e.what();
    }
    if (!ok && out.error.empty()) out.error = builder.error().empty() ? "not valid JSON" : builder.error();
    if (!out.error.empty()) {
        out.why = builder.too_deep() ? parsed_json::failure::too_deep : parsed_json::failure::syntax;
        out.value = json(json::value_t::discarded);
    }
    return out;
}

parsed_json parse_json_file(const std::string& path, const json_limits& limits) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        parsed_json out;
        out.error = fmt::format("cannot read {}: {}", path, std::strerror(errno));
        out.why = parsed_json::failure::unreadable;
        out.value = json(json::value_t::discarded);
        return out;
    }
    std::string text;
    char buf[64 * 1024];
    while (text.size() <= limits.max_bytes && in.read(buf, sizeof buf).gcount() > 0)
        text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (in.bad()) {
        parsed_json out;
        out.error = fmt::format("cannot read {}", path);
        out.why = parsed_json::failure::unreadable;
        out.value = json(json::value_t::discarded);
        return out;
    }
    return parse_json(text, limits);
}

std::string dump_json(const nlohmann::json& value, int indent) {
    return value.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace wharf
