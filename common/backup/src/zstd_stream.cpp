// zstd streams (see zstd_stream.hpp).
#include "wharf/backup/zstd_stream.hpp"

#include <zstd.h>

namespace wharf::backup {

namespace {

void check(std::size_t r, const char* what) {
    if (ZSTD_isError(r)) throw std::runtime_error(std::string(what) + ": " + ZSTD_getErrorName(r));
}

}  // namespace

struct zstd_compressor::impl {
    ZSTD_CCtx* ctx = ZSTD_createCCtx();
    ~impl() { ZSTD_freeCCtx(ctx); }

    void run(std::span<const char> in, std::string& out, ZSTD_EndDirective mode) {
        ZSTD_inBuffer input{in.data(), in.size(), 0};
        const std::size_t chunk = ZSTD_CStreamOutSize();
        for (;;) {
            const std::size_t at = out.size();
            out.resize(at + chunk);
            ZSTD_outBuffer output{out.data() + at, chunk, 0};
            const std::size_t left = ZSTD_compressStream2(ctx, &output, &input, mode);
            check(left, "zstd compression");
            out.resize(at + output.pos);
            // continue: done once the input is consumed; end: once the frame is flushed whole.
            if (mode == ZSTD_e_end ? left == 0 : input.pos == input.size) return;
        }
    }
};

zstd_compressor::zstd_compressor(int level, int workers) : impl_(std::make_unique<impl>()) {
    if (!impl_->ctx) throw std::bad_alloc();
    check(ZSTD_CCtx_setParameter(impl_->ctx, ZSTD_c_compressionLevel, level), "zstd level");
    check(ZSTD_CCtx_setParameter(impl_->ctx, ZSTD_c_checksumFlag, 1), "zstd checksum");
    // A libzstd built without threads refuses workers: compress in this thread then.
    if (workers > 0) (void)ZSTD_CCtx_setParameter(impl_->ctx, ZSTD_c_nbWorkers, workers);
}

zstd_compressor::~zstd_compressor() = default;

void zstd_compressor::compress(std::span<const char> in, std::string& out) { impl_->run(in, out, ZSTD_e_continue); }
void zstd_compressor::finish(std::string& out) { impl_->run({}, out, ZSTD_e_end); }

struct zstd_decompressor::impl {
    ZSTD_DCtx* ctx = ZSTD_createDCtx();
    bool frame_end = true;  // nothing read yet: an empty stream is no frame at all (checked by the caller)
    bool pending = false;
    ~impl() { ZSTD_freeDCtx(ctx); }
};

zstd_decompressor::zstd_decompressor(int window_log_max) : impl_(std::make_unique<impl>()) {
    if (!impl_->ctx) throw std::bad_alloc();
    check(ZSTD_DCtx_setParameter(impl_->ctx, ZSTD_d_windowLogMax, window_log_max), "zstd window");
}

zstd_decompressor::~zstd_decompressor() = default;

std::size_t zstd_decompressor::decompress(std::span<const char> in, std::string& out, std::size_t max_out) {
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    const std::size_t chunk = ZSTD_DStreamOutSize();
    const std::size_t start = out.size();
    impl_->pending = false;
    for (;;) {
        if (out.size() - start >= max_out) {
            impl_->pending = true;  // maybe more for the same input: the caller comes back
            break;
        }
        const std::size_t at = out.size();
        out.resize(at + chunk);
        ZSTD_outBuffer output{out.data() + at, chunk, 0};
        const std::size_t consumed_before = input.pos;
        const std::size_t r = ZSTD_decompressStream(impl_->ctx, &output, &input);
        out.resize(at + output.pos);
        if (ZSTD_isError(r)) throw corrupt_stream(std::string("the backup's zstd stream is damaged: ") + ZSTD_getErrorName(r));
        // A call that moved nothing says nothing about the frame (after the end it would
        // report the next frame's header as missing).
        if (output.pos > 0 || input.pos != consumed_before) impl_->frame_end = r == 0;
        // A full output buffer may leave output inside the decoder: call again, also with no input.
        if (output.pos < chunk && input.pos == input.size) break;
    }
    return input.pos;
}

bool zstd_decompressor::pending() const noexcept { return impl_->pending; }

bool zstd_decompressor::at_frame_end() const noexcept { return impl_->frame_end; }

}  // namespace wharf::backup
