// The media error category.
#include "wharf/media/error.hpp"

namespace wharf::media {
namespace {

class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "wharf.media"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::bad_probe_output: return "unreadable ffprobe output";
            case errc::undecodable: return "the source cannot be decoded";
            case errc::no_media_stream: return "no video or audio stream";
            case errc::no_video_stream: return "no video stream";
            case errc::zero_duration: return "zero or unknown duration";
            case errc::absurd_dimensions: return "absurd video dimensions";
            case errc::absurd_frame_rate: return "absurd frame rate";
            case errc::bad_ladder: return "bad rendition ladder";
            case errc::unknown_rendition: return "unknown rendition";
            case errc::bad_playlist: return "unreadable media playlist";
            case errc::output_mismatch: return "an output is not what was planned";
        }
        return "unknown media error";
    }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace wharf::media
