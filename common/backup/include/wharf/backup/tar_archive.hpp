// A tar archive (POSIX pax) compressed with zstd, written to a file through libarchive: the
// backup's archive of the processed jobs' metadata.json files (the seed's metadata backup), which
// `tar --zstd -xf` (or `zstd -d | tar -x`) unpacks. Blocking: run it off the I/O threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

struct archive;

namespace wharf::backup {

class tar_zst_writer {
public:
    // Throws std::runtime_error (libarchive's message) when the file cannot be created.
    tar_zst_writer(const std::filesystem::path& file, int zstd_level);
    ~tar_zst_writer();
    tar_zst_writer(const tar_zst_writer&) = delete;
    tar_zst_writer& operator=(const tar_zst_writer&) = delete;

    // Appends `source`'s bytes as a regular file named `name` (a relative path; pax keeps names of
    // any length), mode 0644, modified at `mtime`. Throws std::runtime_error.
    void add_file(const std::string& name, const std::filesystem::path& source,
                  std::chrono::system_clock::time_point mtime);
    // Writes the end of the archive and the zstd frame's end. Throws std::runtime_error.
    void close();
    std::uint64_t files() const noexcept { return files_; }

private:
    struct archive* a_ = nullptr;
    std::uint64_t files_ = 0;
    bool closed_ = false;
};

}  // namespace wharf::backup
