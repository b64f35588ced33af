{
  "targets": [
    {
      "target_name": "npzguard",
      "sources": [
        "native/core/errors.cc",
        "native/core/source.cc",
        "native/core/npy_header.cc",
        "native/core/zip_index.cc",
        "native/core/crc32.cc",
        "native/core/deflate_decoder.cc",
        "native/core/inflate.cc",
        "native/core/member_stream.cc",
        "native/core/scan.cc",
        "native/core/pickle_walker.cc",
        "native/core/fresh_fill.cc",
        "native/core/stored_io.cc",
        "native/core/archive.cc",
        "native/core/archive_rows.cc",
        "native/core/archive_scan.cc",
        "native/core/fortran_rows.cc",
        "native/core/file_lock.cc",
        "native/binding/addon.cc",
        "native/binding/convert.cc",
        "native/binding/archive_wrap.cc",
        "native/binding/archive_wrap_rows.cc",
        "native/binding/scan_worker.cc"
      ],
      "include_dirs": ["native/core"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8"],
      "defines!": ["_FILE_OFFSET_BITS=64"],
      "cflags_cc": ["-std=c++17", "-O3", "-Wall", "-Wextra"],
      "libraries": ["-lz"]
    }
  ]
}
