// The multipart/form-data reader of uploads (common/http/src/multipart_form.cpp) on hostile bodies:
// whatever the bytes and however they are split into reads, the parts, their data and the
// outcome are the same as when the body comes in one piece, and a part's data is never more
// than the body held.
#include "fuzz_support.hpp"

#include "wharf/http/multipart_form.hpp"

#include <string>
#include <vector>

namespace {

struct result {
    std::vector<std::string> events;  // "begin name|filename|type", "end", "done", "error why"
    std::string data;                 // every part's data, each followed by a marker
    bool operator==(const result&) const = default;
};

result run(std::string_view body, std::size_t piece) {
    wharf::http::multipart_parser p{"b0undary", wharf::http::multipart_limits{.max_head_bytes = 256, .max_parts = 8}};
    result r;
    std::size_t at = 0;
    for (int guard = 0; guard < 1'000'000; ++guard) {
        using kind = wharf::http::multipart_parser::event_kind;
        const auto k = p.next();
        if (k == kind::part_begin) {
            const auto& h = p.head();
            r.events.push_back("begin " + h.name + "|" + h.filename.value_or("-") + "|" + h.content_type);
        } else if (k == kind::data) {
            WHARF_FUZZ_CHECK(!p.data().empty());
            r.data += p.data();
        } else if (k == kind::part_end) {
            r.events.emplace_back("end");
            r.data += '\x01';
        } else if (k == kind::done) {
            r.events.emplace_back("done");
            return r;
        } else if (k == kind::error) {
            r.events.push_back("error " + p.error());
            return r;
        } else if (at < body.size()) {
            const auto n = std::min(piece, body.size() - at);
            p.feed(body.substr(at, n));
            at += n;
        } else {
            p.end_of_input();
        }
    }
    WHARF_FUZZ_CHECK(!"the parser made no progress");
    return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t piece = 1 + data[0] % 29;
    const auto body = wharf::fuzz::text(data + 1, size - 1);
    (void)wharf::http::form_boundary(body.substr(0, 200));
    const auto whole = run(body, body.size() + 1);
    const auto split = run(body, piece);
    WHARF_FUZZ_CHECK(whole == split);
    WHARF_FUZZ_CHECK(whole.data.size() <= body.size());
    return 0;
}
