// A small, careful extractor for the few XML reply shapes S3 sends (no XML library in the
// stack). It finds elements by name, ignores namespaces, attributes, the prolog, comments and
// CDATA markers it does not need, and decodes the five predefined entities and numeric
// character references. It is not a validating parser: replies it cannot read come back empty,
// and the callers treat an empty required field as a malformed reply.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::storage::s3::xml {

// Inner text (raw, not decoded) of each top-level-or-nested element named `name` in `doc`, in
// document order. Elements with the same name nested inside each other are not supported (S3
// replies have none).
std::vector<std::string_view> elements(std::string_view doc, std::string_view name);
std::optional<std::string_view> element(std::string_view doc, std::string_view name);
// Decoded text of the first `name` element, or nullopt.
std::optional<std::string> text(std::string_view doc, std::string_view name);

// &lt; &gt; &amp; &quot; &apos; &#NN; &#xNN; (UTF-8 out); CDATA sections kept verbatim.
std::string decode(std::string_view raw);
// For building request bodies: escapes & < > " '.
std::string escape(std::string_view text);

// The name of the document's root element ("Error", "CompleteMultipartUploadResult"), or "".
std::string root_name(std::string_view doc);

}  // namespace wharf::storage::s3::xml
