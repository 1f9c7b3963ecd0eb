// The S3 XML reader: element lookup, text decoding and the root name on any body a server (or a
// proxy in front of it) could send; escape() output always decodes back to its input.
#include "fuzz_support.hpp"

#include "wharf/storage/s3/xml.hpp"

#include <array>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace xml = wharf::storage::s3::xml;
    const auto doc = wharf::fuzz::text(data, size);
    static constexpr std::array<std::string_view, 8> names = {"Error", "Code",     "Key",  "Contents",
                                                              "ETag",  "UploadId", "Blob", "a"};
    for (const auto name : names) {
        for (const auto inner : xml::elements(doc, name)) {
            // Views into the document, never past it.
            WHARF_FUZZ_CHECK(inner.data() >= doc.data() && inner.data() + inner.size() <= doc.data() + doc.size());
            (void)xml::decode(inner);
        }
        (void)xml::text(doc, name);
    }
    (void)xml::root_name(doc);
    (void)xml::decode(doc);
    WHARF_FUZZ_CHECK(xml::decode(xml::escape(doc)) == doc);
    return 0;
}
