// Blob Batch bodies and replies (see azure_batch.hpp).
#include "wharf/storage/azure_batch.hpp"

#include "wharf/core/text.hpp"

#include "wharf/storage/error.hpp"
#include "wharf/storage/s3/xml.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace wharf::storage::azure {

namespace xml = wharf::storage::s3::xml;

namespace {

[[noreturn]] void malformed(const std::string& why) { throw error(errc::permanent, "azure Blob Batch: malformed reply: " + why); }

// The next line of `text` without its CR LF (or LF); nullopt at the end.
std::optional<std::string_view> next_line(std::string_view& text) {
    if (text.empty()) return std::nullopt;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

// "Name: value" -> (name, value); nullopt for a line without a colon.
std::optional<std::pair<std::string_view, std::string_view>> split_header(std::string_view line) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    return std::pair{trim_ows(line.substr(0, colon)), trim_ows(line.substr(colon + 1))};
}

std::optional<std::string> boundary_of(std::string_view content_type) {
    const std::string_view type = trim_ows(content_type.substr(0, content_type.find(';')));
    if (!iequals(type, "multipart/mixed")) return std::nullopt;
    for (std::size_t at = content_type.find(';'); at != std::string_view::npos;) {
        std::string_view param = content_type.substr(at + 1);
        const auto end = param.find(';');
        param = trim_ows(param.substr(0, end));
        const auto eq = param.find('=');
        if (eq != std::string_view::npos && iequals(trim_ows(param.substr(0, eq)), "boundary")) {
            std::string_view value = trim_ows(param.substr(eq + 1));
            if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
            if (!value.empty()) return std::string(value);
        }
        at = end == std::string_view::npos ? end : at + 1 + end;
    }
    return std::nullopt;
}

// Where the delimiter line "--boundary" starts, at or after `from`, at the start of a line.
std::size_t find_delimiter(std::string_view body, std::string_view delimiter, std::size_t from) {
    for (auto at = body.find(delimiter, from); at != std::string_view::npos; at = body.find(delimiter, at + 1))
        if (at == 0 || body[at - 1] == '\n') return at;
    return std::string_view::npos;
}

batch_subresponse parse_part(std::string_view part, std::size_t index) {
    const std::string where = "part " + std::to_string(index + 1);
    batch_subresponse out;
    // The part's own headers (Content-Type: application/http, Content-ID), then a blank line.
    for (;;) {
        const auto line = next_line(part);
        if (!line) malformed(where + " ends inside its headers");
        if (line->empty()) break;
        const auto header = split_header(*line);
        if (header && iequals(header->first, "Content-ID")) {
            std::size_t id = 0;
            const auto v = header->second;
            const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), id);
            if (ec != std::errc{} || ptr != v.data() + v.size()) malformed(where + " has Content-ID '" + std::string(v) + "'");
            out.content_id = id;
        }
    }
    // The embedded response: "HTTP/1.1 202 Accepted", its headers, a blank line, a body.
    std::optional<std::string_view> status_line;
    while ((status_line = next_line(part)) && status_line->empty()) {
    }
    if (!status_line || !status_line->starts_with("HTTP/")) malformed(where + " has no status line");
    const auto sp = status_line->find(' ');
    const std::string_view rest = sp == std::string_view::npos ? std::string_view() : status_line->substr(sp + 1);
    const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), out.status);
    if (ec != std::errc{} || out.status < 100 || out.status > 599) malformed(where + " has status line '" + std::string(*status_line) + "'");
    out.message = std::string(trim_ows(std::string_view(ptr, static_cast<std::size_t>(rest.data() + rest.size() - ptr))));
    while (const auto line = next_line(part)) {
        if (line->empty()) break;
        const auto header = split_header(*line);
        if (header && iequals(header->first, "x-ms-error-code")) out.error_code = std::string(header->second);
    }
    const std::string_view body = part;  // what is left: an XML <Error> for failures, or nothing
    if (out.error_code.empty()) out.error_code = xml::text(body, "Code").value_or("");
    if (auto message = xml::text(body, "Message"); message && !message->empty()) out.message = message->substr(0, message->find_first_of("\r\n"));
    return out;
}

}  // namespace

std::string batch_body(std::string_view boundary, const std::vector<batch_subrequest>& subrequests) {
    std::string out;
    for (std::size_t i = 0; i < subrequests.size(); ++i) {
        const auto& sub = subrequests[i];
        out.append("--").append(boundary).append("\r\n");
        out += "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n";
        out += "Content-ID: " + std::to_string(i) + "\r\n\r\n";
        out += sub.method + " " + sub.path + " HTTP/1.1\r\n";
        for (const auto& [name, value] : sub.headers) out += name + ": " + value + "\r\n";
        out += "\r\n";
    }
    out.append("--").append(boundary).append("--\r\n");
    return out;
}

std::vector<batch_subresponse> parse_batch_reply(std::string_view content_type, std::string_view body) {
    const auto boundary = boundary_of(content_type);
    if (!boundary) malformed("Content-Type '" + std::string(content_type) + "' is not multipart/mixed with a boundary");
    const std::string delimiter = "--" + *boundary;
    std::vector<batch_subresponse> parts;
    std::size_t at = find_delimiter(body, delimiter, 0);
    if (at == std::string_view::npos) malformed("no part starts with the boundary");
    for (;;) {
        at += delimiter.size();
        if (body.substr(at, 2) == "--") return parts;  // the closing delimiter
        const auto eol = body.find('\n', at);
        if (eol == std::string_view::npos) malformed("it ends after a boundary");
        const auto next = find_delimiter(body, delimiter, eol + 1);
        if (next == std::string_view::npos) malformed("it ends without its closing boundary");
        parts.push_back(parse_part(body.substr(eol + 1, next - eol - 1), parts.size()));
        at = next;
    }
}

}  // namespace wharf::storage::azure
