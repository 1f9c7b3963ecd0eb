// Connection strings for child processes (see conninfo.hpp).
#include "wharf/backup/conninfo.hpp"

#include "wharf/core/redact.hpp"

#include <libpq-fe.h>

#include <memory>
#include <stdexcept>

namespace wharf::backup {

namespace {

// A value quoted as libpq's key=value syntax wants it: in single quotes, ' and \ escaped.
std::string quoted(std::string_view v) {
    std::string out = "'";
    for (const char c : v) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

}  // namespace

std::vector<std::string> child_conninfo::env() const {
    if (!password) return {};
    return {"PGPASSWORD=" + *password};
}

child_conninfo split_conninfo(std::string_view url, std::optional<std::string> dbname) {
    char* error = nullptr;
    const std::string text(url);
    std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconninfoParse(text.c_str(), &error),
                                                                       &PQconninfoFree);
    if (!options) {
        std::string reason = error ? error : "out of memory";
        PQfreemem(error);
        // libpq quotes the whole URI after the reason, password and all.
        if (const auto at = reason.find(" in URI"); at != std::string::npos) reason.erase(at);
        while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
        reason = redact(reason);
        throw std::invalid_argument("cannot parse the database URL: " + reason);
    }
    child_conninfo out;
    for (const PQconninfoOption* o = options.get(); o->keyword; ++o) {
        const std::string_view key = o->keyword;
        if (key == "dbname") {
            out.dbname = o->val ? o->val : "";
            continue;
        }
        if (!o->val) continue;
        if (key == "password") {
            out.password = o->val;
            continue;
        }
        if (!out.conninfo.empty()) out.conninfo += ' ';
        out.conninfo += std::string(key) + "=" + quoted(o->val);
    }
    if (dbname) out.dbname = *dbname;
    if (!out.dbname.empty()) out.conninfo += (out.conninfo.empty() ? "" : " ") + std::string("dbname=") + quoted(out.dbname);
    return out;
}

}  // namespace wharf::backup
