// See wharf/backup/tar_archive.hpp.
#include "wharf/backup/tar_archive.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <fstream>
#include <memory>
#include <stdexcept>
#include <vector>

namespace wharf::backup {
namespace {

[[noreturn]] void fail(struct archive* a, const std::string& what) {
    const char* why = a ? archive_error_string(a) : nullptr;
    throw std::runtime_error("metadata archive: " + what + ": " + (why ? why : "libarchive failed"));
}

struct entry_deleter {
    void operator()(archive_entry* e) const noexcept { archive_entry_free(e); }
};

}  // namespace

tar_zst_writer::tar_zst_writer(const std::filesystem::path& file, int zstd_level) : a_(archive_write_new()) {
    if (!a_) throw std::runtime_error("metadata archive: out of memory");
    const std::string level = std::to_string(zstd_level);
    if (archive_write_add_filter_zstd(a_) != ARCHIVE_OK) fail(a_, "zstd filter");
    if (archive_write_set_filter_option(a_, "zstd", "compression-level", level.c_str()) != ARCHIVE_OK)
        fail(a_, "zstd level");
    if (archive_write_set_format_pax_restricted(a_) != ARCHIVE_OK) fail(a_, "pax format");
    if (archive_write_open_filename(a_, file.c_str()) != ARCHIVE_OK) fail(a_, "create " + file.string());
}

tar_zst_writer::~tar_zst_writer() {
    if (a_) archive_write_free(a_);  // closes too, when close() was not reached (an error)
}

void tar_zst_writer::add_file(const std::string& name, const std::filesystem::path& source,
                              std::chrono::system_clock::time_point mtime) {
    std::ifstream in(source, std::ios::binary);
    if (!in) throw std::runtime_error("metadata archive: cannot read " + source.string());
    const auto size = std::filesystem::file_size(source);
    std::unique_ptr<archive_entry, entry_deleter> e(archive_entry_new());
    if (!e) throw std::runtime_error("metadata archive: out of memory");
    archive_entry_set_pathname_utf8(e.get(), name.c_str());
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_mtime(e.get(), std::chrono::system_clock::to_time_t(mtime), 0);
    if (archive_write_header(a_, e.get()) != ARCHIVE_OK) fail(a_, "header of " + name);
    std::vector<char> buffer(1u << 20);
    std::uint64_t written = 0;
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        const auto n = static_cast<std::size_t>(in.gcount());
        if (n == 0) break;
        if (archive_write_data(a_, buffer.data(), n) != static_cast<la_ssize_t>(n)) fail(a_, "data of " + name);
        written += n;
    }
    if (written != size) throw std::runtime_error("metadata archive: " + source.string() + " changed while read");
    ++files_;
}

void tar_zst_writer::close() {
    if (closed_) return;
    if (archive_write_close(a_) != ARCHIVE_OK) fail(a_, "close");
    closed_ = true;
}

}  // namespace wharf::backup
