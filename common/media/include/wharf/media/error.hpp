// The media error domain: what is wrong with a source, a configuration or an output, as a value
// (media::problem in boost::system::result) with a readable message, and an error_code category.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <boost/system/system_error.hpp>

#include <string>
#include <type_traits>

namespace wharf::media {

enum class errc {
    bad_probe_output = 1,  // ffprobe's output is not the JSON it documents (or too large, too deep)
    undecodable,           // ffprobe or ffmpeg cannot read the source
    no_media_stream,       // neither a video nor an audio stream
    no_video_stream,       // a video stream was required
    zero_duration,         // no duration, or zero
    absurd_dimensions,     // too small, too large, or too many pixels
    absurd_frame_rate,
    bad_ladder,            // a ladder or rendition setting that cannot be planned
    unknown_rendition,     // a requested rendition the ladder does not have
    bad_playlist,          // a media playlist ffmpeg wrote that does not parse
    output_mismatch,       // an output that is not what was planned (codec, size, duration)
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

// An input-dependent failure: the code, and a message fit for a job row ("source is 0x0 ...").
struct problem {
    errc code = errc::undecodable;
    std::string message;
};

// Thrown by result<T>::value() on a problem.
class error : public boost::system::system_error {
public:
    explicit error(const problem& p) : boost::system::system_error(make_error_code(p.code), p.message) {}
};

[[noreturn]] inline void throw_exception_from_error(const problem& p, const boost::source_location&) {
    throw error(p);
}

template <class T>
using result = boost::system::result<T, problem>;

}  // namespace wharf::media

template <>
struct boost::system::is_error_code_enum<wharf::media::errc> : std::true_type {};
