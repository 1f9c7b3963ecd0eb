// Resuming a download: Content-Range from a server, the decision on a fuzzed answer to a fuzzed
// ranged request, and the partial file's sidecar. A parsed range is ordered; an append continues
// exactly where the file ends and a verify covers exactly what is there; a sidecar that decodes
// encodes back to the same, and its validators are safe to send as a header.
#include "fuzz_support.hpp"

#include "wharf/fetch/resume.hpp"

#include <fuzzer/FuzzedDataProvider.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace fetch = wharf::fetch;
    FuzzedDataProvider in(data, size);
    const auto from = in.ConsumeIntegral<std::uint64_t>();
    const int status = in.ConsumeIntegralInRange(100, 599);
    const auto length = in.ConsumeBool() ? std::optional<std::uint64_t>(in.ConsumeIntegral<std::uint64_t>()) : std::nullopt;
    const auto encoding = in.ConsumeRandomLengthString(16);
    const auto header = in.ConsumeRandomLengthString(160);
    const auto sidecar_text = in.ConsumeRemainingBytesAsString();

    if (const auto r = fetch::parse_content_range(header)) {
        WHARF_FUZZ_CHECK(r->first.has_value() == r->last.has_value());
        if (r->first) WHARF_FUZZ_CHECK(*r->first <= *r->last && (!r->complete || *r->last < *r->complete));
        else WHARF_FUZZ_CHECK(r->complete.has_value());
    }
    const fetch::range_request sent{from, "\"v\""};
    const auto d = fetch::decide_resume(sent, status, header, length, encoding);
    switch (d.action) {
        case fetch::resume_action::append: WHARF_FUZZ_CHECK(status == 206 && d.offset == from); break;
        case fetch::resume_action::verify_existing: WHARF_FUZZ_CHECK(status == 416 && d.total == from); break;
        case fetch::resume_action::write_from_zero: WHARF_FUZZ_CHECK(d.offset == 0 && status / 100 == 2); break;
        case fetch::resume_action::restart: WHARF_FUZZ_CHECK(!d.reason.empty()); break;
    }

    if (const auto s = fetch::decode_sidecar(sidecar_text)) {
        WHARF_FUZZ_CHECK(fetch::decode_sidecar(fetch::encode_sidecar(*s)) == s);
        if (const auto v = fetch::if_range_value(s->v)) WHARF_FUZZ_CHECK(fetch::is_safe_validator(*v));
        const auto plan = fetch::plan_resume({from, s->v, s->total});
        if (plan) WHARF_FUZZ_CHECK(plan->from == from && from > 0 && fetch::is_safe_validator(plan->if_range));
    }
    return 0;
}
