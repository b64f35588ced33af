// In-place conversion of big-endian data to native (little-endian) order: n bytes made of
// unit-sized (2, 4 or 8 byte) values; other units are left alone. Used by copies, scans and the
// binding's large-copy path. Pure, header-only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace npz {

inline void swap_units(uint8_t* p, size_t n, size_t unit) {
  switch (unit) {
    case 2:
      for (size_t i = 0; i + 2 <= n; i += 2) {
        uint16_t v;
        std::memcpy(&v, p + i, 2);
        v = __builtin_bswap16(v);
        std::memcpy(p + i, &v, 2);
      }
      break;
    case 4:
      for (size_t i = 0; i + 4 <= n; i += 4) {
        uint32_t v;
        std::memcpy(&v, p + i, 4);
        v = __builtin_bswap32(v);
        std::memcpy(p + i, &v, 4);
      }
      break;
    case 8:
      for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t v;
        std::memcpy(&v, p + i, 8);
        v = __builtin_bswap64(v);
        std::memcpy(p + i, &v, 8);
      }
      break;
    default: break;
  }
}

}  // namespace npz
