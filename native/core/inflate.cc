// The Inflater back ends other than our own decoder: zlib (differential tests and reference)
// and ISA-L's igzip (optional, only when the build links it). CRC-32 lives in crc32.cc.
#include "inflate.h"

#include <zlib.h>

#include <cstring>
#include <new>
#include <string>

#include "errors.h"

#if defined(NPZ_HAVE_ISAL)
#include <isa-l.h>
#include <isa-l/igzip_lib.h>
#endif

namespace npz {

namespace {

#define NPZ_STR2(x) #x
#define NPZ_STR(x) NPZ_STR2(x)

#if defined(NPZ_HAVE_ISAL)
class IsalInflater final : public Inflater {
 public:
  IsalInflater() : st_(new inflate_state) {
    isal_inflate_init(st_.get());
    st_->crc_flag = ISAL_DEFLATE;  // raw DEFLATE; the ZIP CRC is computed by the stream
    st_->hist_bits = 0;
  }
  Step step(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_len) override {
    Step s;
    const uint32_t il = in_len > 0x40000000u ? 0x40000000u : static_cast<uint32_t>(in_len);
    const uint32_t ol = out_len > 0x40000000u ? 0x40000000u : static_cast<uint32_t>(out_len);
    st_->next_in = const_cast<uint8_t*>(in);
    st_->avail_in = il;
    st_->next_out = out;
    st_->avail_out = ol;
    const int r = isal_inflate(st_.get());
    if (r < 0)
      throw Error(Code::NpzCorrupt, "invalid DEFLATE data (isa-l error " + std::to_string(r) + ")");
    s.consumed = il - st_->avail_in;
    s.produced = ol - st_->avail_out;
    s.end = st_->block_state == ISAL_BLOCK_FINISH;
    return s;
  }

 private:
  std::unique_ptr<inflate_state> st_;
};
#endif

class ZlibInflater final : public Inflater {
 public:
  ZlibInflater() {
    std::memset(&zs_, 0, sizeof zs_);
    if (inflateInit2(&zs_, -15) != Z_OK) throw std::bad_alloc();
  }
  ~ZlibInflater() override { inflateEnd(&zs_); }
  Step step(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_len) override {
    Step s;
    const uInt il = in_len > 0x40000000u ? 0x40000000u : static_cast<uInt>(in_len);
    const uInt ol = out_len > 0x40000000u ? 0x40000000u : static_cast<uInt>(out_len);
    zs_.next_in = const_cast<Bytef*>(in);
    zs_.avail_in = il;
    zs_.next_out = out;
    zs_.avail_out = ol;
    const int r = inflate(&zs_, Z_NO_FLUSH);
    if (r == Z_MEM_ERROR) throw std::bad_alloc();
    if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
      throw Error(Code::NpzCorrupt, std::string("invalid DEFLATE data (zlib: ") +
                                        (zs_.msg ? zs_.msg : "error " + std::to_string(r)) + ")");
    s.consumed = il - zs_.avail_in;
    s.produced = ol - zs_.avail_out;
    s.end = r == Z_STREAM_END;
    return s;
  }

 private:
  z_stream zs_;
};

}  // namespace

std::unique_ptr<Inflater> make_zlib_inflater() { return std::make_unique<ZlibInflater>(); }

std::unique_ptr<Inflater> make_isal_inflater() {
#if defined(NPZ_HAVE_ISAL)
  return std::make_unique<IsalInflater>();
#else
  return nullptr;
#endif
}

// ISA-L, when a build links it (NPZ_USE_ISAL and libisal-dev present): on complex64 noise it
// measured 0.31 GB/s per core against 0.29 for our decoder (zlib 0.25) before the decoder's
// last ~6% gain, so about even; it stays an optional extra. A default install has no ISA-L.
std::unique_ptr<Inflater> make_inflater() {
#if defined(NPZ_HAVE_ISAL)
  return make_isal_inflater();
#else
  return make_npz_inflater();
#endif
}

const char* inflate_impl_name() {
#if defined(NPZ_HAVE_ISAL)
  return "isa-l " NPZ_STR(ISAL_MAJOR_VERSION) "." NPZ_STR(ISAL_MINOR_VERSION);
#else
  return "npzguard";
#endif
}

}  // namespace npz
