// See wharf/lifecycle/backstop.hpp.
#include "wharf/lifecycle/backstop.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace wharf::lifecycle {
namespace {

// XML text: the five entities escaped; control characters (which XML 1.0 cannot carry) refused.
std::optional<std::string> xml_text(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 && c != '\t' && c != '\n' && c != '\r') return std::nullopt;
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                out.push_back(c);
        }
    }
    return out;
}

// Why a rule cannot be written, or nullopt.
std::optional<std::string> unwritable(const rule_set& rules, const rule& r) {
    if (r.api_key) return "it is for one api_key: S3 lifecycle filters cannot tell tenants apart";
    for (const auto& other : rules.rules) {
        if (&other == &r) continue;
        if (other.prefix.size() > r.prefix.size() && other.prefix.starts_with(r.prefix))
            return fmt::format("the rule for \"{}\" narrows it: S3 would apply both to the objects under it",
                               other.prefix);
        if (other.prefix == r.prefix && other.api_key)
            return "a rule for one api_key has the same prefix: S3 would apply this one to that tenant's objects too";
    }
    if (!xml_text(r.prefix)) return "its prefix has a control character, which XML cannot carry";
    return std::nullopt;
}

}  // namespace

std::uint32_t whole_days(std::chrono::seconds age) noexcept {
    const auto days = (age.count() + 86'399) / 86'400;
    return static_cast<std::uint32_t>(std::max<std::int64_t>(days, 1));
}

s3_backstop s3_lifecycle_configuration(const rule_set& rules, storage::s3::profile profile,
                                       std::uint32_t abort_incomplete_days) {
    namespace s3 = storage::s3;
    if (profile == s3::profile::gcs)
        throw std::invalid_argument(
            "the gcs profile takes Google's own lifecycle document, not S3's; set it with gsutil");
    if (abort_incomplete_days == 0) throw std::invalid_argument("abort_incomplete_days must be at least 1");
    s3_backstop out;
    std::string body;
    std::size_t n = 0;
    for (const auto& r : rules.rules) {
        if (auto why = unwritable(rules, r)) {
            out.left_out.push_back({r.prefix, r.api_key, *why});
            continue;
        }
        const std::string prefix = *xml_text(r.prefix);
        if (r.warm_after || r.cold_after) {
            std::string filter = "<Prefix>" + prefix + "</Prefix>";
            if (rules.min_tier_size > 0)
                filter = fmt::format("<And><Prefix>{}</Prefix><ObjectSizeGreaterThan>{}</ObjectSizeGreaterThan></And>",
                                     prefix, rules.min_tier_size - 1);
            std::string transitions;
            std::uint32_t warm_days = 0;
            if (r.warm_after) {
                warm_days = whole_days(*r.warm_after);
                transitions += fmt::format("<Transition><Days>{}</Days><StorageClass>{}</StorageClass></Transition>",
                                           warm_days, s3::storage_class_for(profile, storage::tier::warm));
            }
            // r2 has one colder class: warm and cold are the same there, so one transition does.
            const bool distinct_cold = s3::storage_class_for(profile, storage::tier::cold) !=
                                       s3::storage_class_for(profile, storage::tier::warm);
            if (r.cold_after && (distinct_cold || !r.warm_after)) {
                // Whole days may bring the two together (rules of hours); S3 wants them apart.
                const std::uint32_t cold_days = std::max(whole_days(*r.cold_after), warm_days + 1);
                transitions += fmt::format("<Transition><Days>{}</Days><StorageClass>{}</StorageClass></Transition>",
                                           cold_days, s3::storage_class_for(profile, storage::tier::cold));
            }
            body += fmt::format("<Rule><ID>wharf-{}-tiers</ID><Filter>{}</Filter><Status>Enabled</Status>{}</Rule>",
                                ++n, filter, transitions);
            ++out.s3_rules;
        }
        if (r.expire_after) {
            body += fmt::format(
                "<Rule><ID>wharf-{}-expire</ID><Filter><Prefix>{}</Prefix></Filter><Status>Enabled</Status>"
                "<Expiration><Days>{}</Days></Expiration></Rule>",
                ++n, prefix, whole_days(*r.expire_after));
            ++out.s3_rules;
        }
    }
    body += fmt::format(
        "<Rule><ID>wharf-abort-incomplete-multipart</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status>"
        "<AbortIncompleteMultipartUpload><DaysAfterInitiation>{}</DaysAfterInitiation></AbortIncompleteMultipartUpload>"
        "</Rule>",
        abort_incomplete_days);
    ++out.s3_rules;
    out.xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" +
        body + "</LifecycleConfiguration>\n";
    return out;
}

}  // namespace wharf::lifecycle
