// The S3 reply extractor (see xml.hpp).
#include "wharf/storage/s3/xml.hpp"

#include <charconv>
#include <cstdint>

namespace wharf::storage::s3::xml {

namespace {

bool name_char_end(char c) { return c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Skips "<?...?>", "<!--...-->", "<!DOCTYPE ...>" at pos; returns the position after, or npos
// when pos is not at such a construct.
std::size_t skip_markup(std::string_view doc, std::size_t pos) {
    if (doc.compare(pos, 4, "<!--") == 0) {
        auto end = doc.find("-->", pos + 4);
        return end == std::string_view::npos ? doc.size() : end + 3;
    }
    if (doc.compare(pos, 9, "<![CDATA[") == 0) {
        auto end = doc.find("]]>", pos + 9);
        return end == std::string_view::npos ? doc.size() : end + 3;
    }
    if (doc.compare(pos, 2, "<?") == 0 || doc.compare(pos, 2, "<!") == 0) {
        auto end = doc.find('>', pos);
        return end == std::string_view::npos ? doc.size() : end + 1;
    }
    return std::string_view::npos;
}

// The local name of the tag starting at doc[pos] == '<' (prefix "s3:" dropped), and where it ends.
std::string_view tag_name(std::string_view doc, std::size_t pos, std::size_t& name_end) {
    std::size_t i = pos + 1;
    if (i < doc.size() && doc[i] == '/') ++i;
    std::size_t start = i;
    while (i < doc.size() && !name_char_end(doc[i])) ++i;
    name_end = i;
    std::string_view name = doc.substr(start, i - start);
    if (auto colon = name.find(':'); colon != std::string_view::npos) name.remove_prefix(colon + 1);
    return name;
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

}  // namespace

std::vector<std::string_view> elements(std::string_view doc, std::string_view name) {
    std::vector<std::string_view> out;
    std::size_t pos = 0;
    while ((pos = doc.find('<', pos)) != std::string_view::npos) {
        if (auto after = skip_markup(doc, pos); after != std::string_view::npos) {
            pos = after;
            continue;
        }
        if (pos + 1 < doc.size() && doc[pos + 1] == '/') {
            ++pos;
            continue;
        }
        std::size_t name_end = 0;
        std::string_view tag = tag_name(doc, pos, name_end);
        const auto gt = doc.find('>', name_end);
        if (gt == std::string_view::npos) break;
        if (tag != name) {
            pos = gt + 1;
            continue;
        }
        if (doc[gt - 1] == '/') {  // <Name/>: present and empty
            out.emplace_back(doc.substr(gt + 1, 0));
            pos = gt + 1;
            continue;
        }
        // Find the matching close tag, skipping CDATA (whose text may contain '<').
        std::size_t scan = gt + 1;
        std::size_t close = std::string_view::npos;
        while ((scan = doc.find('<', scan)) != std::string_view::npos) {
            if (doc.compare(scan, 9, "<![CDATA[") == 0 || doc.compare(scan, 4, "<!--") == 0) {
                scan = skip_markup(doc, scan);
                continue;
            }
            if (scan + 1 < doc.size() && doc[scan + 1] == '/') {
                std::size_t e = 0;
                if (tag_name(doc, scan, e) == name) {
                    close = scan;
                    break;
                }
            }
            ++scan;
        }
        if (close == std::string_view::npos) break;  // unterminated: malformed, stop
        out.emplace_back(doc.substr(gt + 1, close - gt - 1));
        pos = doc.find('>', close);
        if (pos == std::string_view::npos) break;
    }
    return out;
}

std::optional<std::string_view> element(std::string_view doc, std::string_view name) {
    auto all = elements(doc, name);  // small replies: finding all then taking the first is fine
    if (all.empty()) return std::nullopt;
    return all.front();
}

std::optional<std::string> text(std::string_view doc, std::string_view name) {
    auto e = element(doc, name);
    if (!e) return std::nullopt;
    return decode(*e);
}

std::string decode(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size();) {
        if (raw.compare(i, 9, "<![CDATA[") == 0) {
            auto end = raw.find("]]>", i + 9);
            if (end == std::string_view::npos) end = raw.size();
            out.append(raw.substr(i + 9, end - i - 9));
            i = end == raw.size() ? end : end + 3;
            continue;
        }
        if (raw[i] != '&') {
            out.push_back(raw[i++]);
            continue;
        }
        const auto semi = raw.find(';', i);
        if (semi == std::string_view::npos || semi - i > 12) {  // a stray '&': keep it as is
            out.push_back(raw[i++]);
            continue;
        }
        const std::string_view ent = raw.substr(i + 1, semi - i - 1);
        if (ent == "lt") out.push_back('<');
        else if (ent == "gt") out.push_back('>');
        else if (ent == "amp") out.push_back('&');
        else if (ent == "quot") out.push_back('"');
        else if (ent == "apos") out.push_back('\'');
        else if (ent.size() > 1 && ent[0] == '#') {
            std::uint32_t cp = 0;
            const bool is_hex = ent[1] == 'x' || ent[1] == 'X';
            const char* first = ent.data() + (is_hex ? 2 : 1);
            const char* last = ent.data() + ent.size();
            auto [ptr, ec] = std::from_chars(first, last, cp, is_hex ? 16 : 10);
            if (ec != std::errc{} || ptr != last || cp > 0x10FFFF || first == last) {
                out.append(raw.substr(i, semi - i + 1));
            } else {
                append_utf8(out, cp);
            }
        } else {
            out.append(raw.substr(i, semi - i + 1));  // unknown entity: keep verbatim
        }
        i = semi + 1;
    }
    return out;
}

std::string escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default: out.push_back(c);
        }
    }
    return out;
}

std::string root_name(std::string_view doc) {
    std::size_t pos = 0;
    while ((pos = doc.find('<', pos)) != std::string_view::npos) {
        if (auto after = skip_markup(doc, pos); after != std::string_view::npos) {
            pos = after;
            continue;
        }
        std::size_t e = 0;
        return std::string(tag_name(doc, pos, e));
    }
    return {};
}

}  // namespace wharf::storage::s3::xml
