// NPY prefix + header dict parser and the descr table (npy-npz-format.md §1-§4).
// The header is tokenized against the strict grammar of §2.3; nothing is ever evaluated, and
// every size derived from it is overflow-checked before anyone allocates from it.
// Over 400 lines on purpose: the header grammar (HeaderParser) and the descr table (parse_descr)
// are the two halves of one format section (§2-§4) and share the token and overflow helpers.
#include "npy_header.h"
#include "utf8.h"

#include <cstring>

#include "errors.h"

namespace npz {
namespace {

constexpr uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr uint64_t kMaxI64 = 0x7FFFFFFFFFFFFFFFull;
constexpr uint64_t kMaxSafeJs = (1ull << 53) - 1;  // Number.MAX_SAFE_INTEGER
constexpr int kMaxListDepth = 8;

[[noreturn]] void bad_header(const std::string& msg) { throw Error(Code::NpyBadHeader, msg); }

// A short, printable rendering of the bytes at s[pos...] for error messages.
std::string token_at(std::string_view s, size_t pos) {
  if (pos >= s.size()) return "end of header";
  std::string out = "'";
  size_t end = pos + 16 < s.size() ? pos + 16 : s.size();
  for (size_t i = pos; i < end; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  out += end < s.size() ? "...'" : "'";
  return out + " at offset " + std::to_string(pos);
}

bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > UINT64_MAX / a) return false;
  *out = a * b;
  return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Tokenizer over the header body (the text without its final '\n').
class HeaderParser {
 public:
  HeaderParser(std::string_view s, bool allow_long_suffix)
      : s_(s), allow_long_(allow_long_suffix) {}

  void parse(NpyHeader* h) {
    ws();
    expect('{', "header must start with '{'");
    bool have_descr = false, have_fortran = false, have_shape = false;
    bool first = true;
    for (;;) {
      ws();
      if (peek() == '}' && !first) break;  // reached after a trailing comma
      size_t key_pos = pos_;
      std::string key = quoted_string("key");
      bool* seen = nullptr;
      if (key == "descr") seen = &have_descr;
      else if (key == "fortran_order") seen = &have_fortran;
      else if (key == "shape") seen = &have_shape;
      else
        bad_header("unexpected key '" + key + "' at offset " + std::to_string(key_pos) +
                   " (expected exactly 'descr', 'fortran_order', 'shape')");
      if (*seen) bad_header("duplicate key '" + key + "' at offset " + std::to_string(key_pos));
      *seen = true;
      ws();
      expect(':', "expected ':' after key '" + key + "'");
      ws();
      if (key == "descr") parse_descr_value(h);
      else if (key == "fortran_order") h->fortran_order = parse_bool();
      else parse_shape(h);
      first = false;
      ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') break;
      bad_header("expected ',' or '}' but found " + token_at(s_, pos_));
    }
    ++pos_;  // '}'
    dict_end_ = pos_;
    while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
    if (pos_ != s_.size()) bad_header("unexpected bytes after '}': " + token_at(s_, pos_));
    if (!have_descr) bad_header("header has no 'descr' key");
    if (!have_fortran) bad_header("header has no 'fortran_order' key");
    if (!have_shape) bad_header("header has no 'shape' key");
  }

  // End of the dict literal ('}' included) for header_text.
  size_t dict_end() const { return dict_end_; }

 private:
  int peek() const { return pos_ < s_.size() ? static_cast<unsigned char>(s_[pos_]) : -1; }
  void ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  void expect(char c, const std::string& what) {
    if (peek() != static_cast<unsigned char>(c)) bad_header(what + ", found " + token_at(s_, pos_));
    ++pos_;
  }

  std::string quoted_string(const char* what) {
    int q = peek();
    if (q != '\'' && q != '"')
      bad_header(std::string("expected a quoted ") + what + ", found " + token_at(s_, pos_));
    size_t start = ++pos_;
    for (;;) {
      int c = peek();
      if (c < 0)
        bad_header(std::string("unterminated ") + what + " string starting at offset " +
                   std::to_string(start - 1));
      if (c == q) break;
      if (c < 0x20 || c > 0x7E || c == '\\' || c == '\'' || c == '"')
        bad_header(std::string("character not allowed in ") + what +
                   " string: " + token_at(s_, pos_));
      ++pos_;
    }
    std::string out(s_.substr(start, pos_ - start));
    ++pos_;
    return out;
  }

  void parse_descr_value(NpyHeader* h) {
    int c = peek();
    if (c == '\'' || c == '"') {
      std::string d = quoted_string("descr");
      h->dtype = parse_descr(d);
      return;
    }
    if (c == '[') {
      size_t start = pos_;
      scan_list();
      h->dtype = parse_descr(s_.substr(start, pos_ - start));
      return;
    }
    bad_header("'descr' must be a string or a list, found " + token_at(s_, pos_));
  }

  // Structured descrs are only checked for balanced brackets and quotes, then refused later.
  void scan_list() {
    char stack[kMaxListDepth];
    int depth = 0;
    size_t start = pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '[' || c == '(') {
        if (depth == kMaxListDepth)
          bad_header("structured descr nested deeper than " + std::to_string(kMaxListDepth) +
                     " levels at offset " + std::to_string(pos_));
        stack[depth++] = c == '[' ? ']' : ')';
        ++pos_;
      } else if (c == ']' || c == ')') {
        if (depth == 0 || stack[depth - 1] != c)
          bad_header("unbalanced bracket in structured descr: " + token_at(s_, pos_));
        --depth;
        ++pos_;
        if (depth == 0) return;
      } else if (c == '\'' || c == '"') {
        size_t qpos = pos_++;
        for (;;) {
          if (pos_ >= s_.size())
            bad_header("unterminated string in structured descr starting at offset " +
                       std::to_string(qpos));
          char d = s_[pos_];
          if (d == '\\') {
            pos_ += 2;
            continue;
          }
          ++pos_;
          if (d == c) break;
        }
      } else {
        ++pos_;
      }
    }
    bad_header("unterminated structured descr starting at offset " + std::to_string(start));
  }

  bool parse_bool() {
    if (s_.compare(pos_, 4, "True") == 0 && !ident_char(pos_ + 4)) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0 && !ident_char(pos_ + 5)) {
      pos_ += 5;
      return false;
    }
    bad_header("'fortran_order' must be True or False, found " + token_at(s_, pos_));
  }
  bool ident_char(size_t i) const {
    if (i >= s_.size()) return false;
    char c = s_[i];
    return is_digit(c) || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }

  uint64_t parse_int() {
    size_t start = pos_;
    if (!is_digit(static_cast<char>(peek())))
      bad_header("shape entries must be non-negative decimal integers, found " +
                 token_at(s_, pos_));
    if (s_[pos_] == '0' && pos_ + 1 < s_.size() && is_digit(s_[pos_ + 1]))
      bad_header("leading zero in shape entry " + token_at(s_, pos_));
    uint64_t v = 0;
    size_t ndig = 0;
    while (pos_ < s_.size() && is_digit(s_[pos_])) {
      if (++ndig > 19) bad_header("shape entry too large: " + token_at(s_, start));
      v = v * 10 + static_cast<uint64_t>(s_[pos_] - '0');
      ++pos_;
    }
    if (v > kMaxI64) bad_header("shape entry exceeds 2^63-1: " + token_at(s_, start));
    if (peek() == 'L') {
      if (!allow_long_)
        bad_header("'L' suffix is not allowed in a v3 header: " + token_at(s_, start));
      ++pos_;
    }
    if (ident_char(pos_) || peek() == '.')
      bad_header("shape entries must be decimal integers, found " + token_at(s_, start));
    return v;
  }

  void parse_shape(NpyHeader* h) {
    if (peek() != '(') bad_header("'shape' must be a tuple, found " + token_at(s_, pos_));
    size_t open = pos_++;
    h->shape.clear();
    ws();
    if (peek() == ')') {
      ++pos_;
      return;
    }
    bool trailing_comma = false;
    for (;;) {
      if (h->shape.size() == kMaxNdim)
        bad_header("shape has more than " + std::to_string(kMaxNdim) + " dimensions");
      h->shape.push_back(parse_int());
      ws();
      trailing_comma = false;
      if (peek() == ',') {
        ++pos_;
        trailing_comma = true;
        ws();
        if (peek() == ')') break;
        continue;
      }
      if (peek() == ')') break;
      bad_header("expected ',' or ')' in shape, found " + token_at(s_, pos_));
    }
    if (h->shape.size() == 1 && !trailing_comma)
      bad_header("1-d shape needs a trailing comma to be a tuple: " + token_at(s_, open));
    ++pos_;
  }

  std::string_view s_;
  size_t pos_ = 0;
  size_t dict_end_ = 0;
  bool allow_long_;
};

uint32_t parse_uint_digits(std::string_view s, size_t* pos, bool* ok) {
  uint64_t v = 0;
  size_t start = *pos;
  while (*pos < s.size() && is_digit(s[*pos])) {
    v = v * 10 + static_cast<uint64_t>(s[*pos] - '0');
    if (v > 0xFFFFFFFFull) {
      *ok = false;
      v = 0xFFFFFFFFull;
    }
    ++*pos;
  }
  if (*pos == start) *ok = false;
  return static_cast<uint32_t>(v);
}

const char* int_name(bool is_unsigned, uint32_t size) {
  switch (size) {
    case 1: return is_unsigned ? "uint8" : "int8";
    case 2: return is_unsigned ? "uint16" : "int16";
    case 4: return is_unsigned ? "uint32" : "int32";
    case 8: return is_unsigned ? "uint64" : "int64";
  }
  return nullptr;
}

}  // namespace

DType parse_descr(std::string_view descr) {
  DType t;
  t.descr = std::string(descr);
  if (!descr.empty() && descr.front() == '[') {
    t.kind = 0;
    t.byteorder = '|';
    t.reason = "structured dtype";
    t.numpy_name = t.descr;
    return t;
  }
  size_t pos = 0;
  char order = 0;  // 0 = none given
  if (pos < descr.size() &&
      (descr[pos] == '<' || descr[pos] == '>' || descr[pos] == '|' || descr[pos] == '='))
    order = descr[pos++];
  if (pos >= descr.size()) bad_header("descr '" + t.descr + "' has no type character");
  char kind = descr[pos++];
  bool have_size = pos < descr.size() && is_digit(descr[pos]);
  bool size_ok = true;
  uint32_t n = have_size ? parse_uint_digits(descr, &pos, &size_ok) : 0;
  std::string unit;
  if (pos < descr.size() && descr[pos] == '[' && (kind == 'M' || kind == 'm')) {
    size_t close = descr.find(']', pos);
    if (close == std::string_view::npos || close != descr.size() - 1 || close == pos + 1)
      bad_header("descr '" + t.descr + "' has a malformed datetime unit");
    unit = std::string(descr.substr(pos, close - pos + 1));
    pos = close + 1;
  }
  if (pos != descr.size()) bad_header("descr '" + t.descr + "' is not a valid dtype descriptor");

  t.byteorder = order == '<' || order == '>' ? order : '|';
  t.kind = kind;
  auto unsupported = [&](const std::string& why, std::string name) {
    t.supported = false;
    t.reason = why;
    t.numpy_name = std::move(name);
    return t;
  };
  auto prefixed = [&](const std::string& body) {
    return std::string(1, order == '>' ? '>' : '<') + body;
  };
  std::string sizestr = std::to_string(n);

  switch (kind) {
    case 'b':
    case 'i':
    case 'u':
    case 'f':
    case 'c': {
      if (!have_size || !size_ok)
        return unsupported("descr '" + t.descr + "' has no valid itemsize", t.descr);
      t.itemsize = n;
      t.component_size = kind == 'c' ? n / 2 : n;
      std::string name;
      bool valid = false;
      if (kind == 'b') {
        valid = n == 1;
        if (valid) name = "bool";
      } else if (kind == 'i' || kind == 'u') {
        const char* nm = int_name(kind == 'u', n);
        valid = nm != nullptr;
        if (nm) name = nm;
      } else if (kind == 'f') {
        valid = n == 2 || n == 4 || n == 8;
        if (valid || n == 16) name = "float" + std::to_string(n * 8);
      } else {
        valid = n == 8 || n == 16;
        if (valid || n == 32) name = "complex" + std::to_string(n * 8);
      }
      if (name.empty()) {
        t.component_size = 0;
        return unsupported("descr '" + t.descr + "': invalid itemsize " + sizestr, t.descr);
      }
      bool multibyte = t.component_size > 1;
      if (multibyte && order == '>') name = prefixed(std::string(1, kind) + sizestr);
      t.big_endian = multibyte && order == '>';
      if (!valid) return unsupported(name + " (x86 long double) is platform-specific", name);
      // NumPy always writes an explicit order; '=' / none mean "the writer's", so refuse them
      // even for 1-byte kinds rather than guess what else the writer left implicit.
      if (order == 0 || order == '=') return unsupported("ambiguous byte order", name);
      if (order == '|' && multibyte)
        return unsupported("ambiguous byte order ('|' on a multi-byte type)", name);
      t.supported = true;
      t.numpy_name = name;
      return t;
    }
    case 'U': {
      if (!have_size || !size_ok)
        return unsupported("descr '" + t.descr + "' has no valid itemsize", t.descr);
      std::string name = prefixed("U" + sizestr);
      if (n == 0) return unsupported("itemsize 0", name);
      if (n > 0x7FFFFFFFu / 4) return unsupported("itemsize too large", name);
      t.itemsize = 4 * n;
      t.component_size = 4;
      t.big_endian = order == '>';
      if (order == 0 || order == '=' || order == '|')
        return unsupported("ambiguous byte order", name);
      t.supported = true;
      t.numpy_name = name;
      return t;
    }
    case 'S':
    case 'a': {
      if (!have_size || !size_ok)
        return unsupported("descr '" + t.descr + "' has no valid itemsize", t.descr);
      std::string name = "|S" + sizestr;
      if (n == 0) return unsupported("itemsize 0", name);
      if (n > 0x7FFFFFFFu) return unsupported("itemsize too large", name);
      t.kind = 'S';
      t.byteorder = '|';
      t.itemsize = n;
      t.component_size = 1;
      if (order == 0 || order == '=') return unsupported("ambiguous byte order", name);
      t.supported = true;
      t.numpy_name = name;
      return t;
    }
    case 'O': {
      if (have_size && (!size_ok || (n != 8 && n != 4)))
        return unsupported("descr '" + t.descr + "': invalid itemsize " + sizestr, t.descr);
      t.byteorder = '|';
      t.is_object = true;
      t.itemsize = 0;
      return unsupported("object dtype (pickled payload)", "object");
    }
    case 'V': {
      if (!have_size || !size_ok)
        return unsupported("descr '" + t.descr + "' has no valid itemsize", t.descr);
      t.byteorder = '|';
      std::string name = "|V" + sizestr;
      if (n == 0) return unsupported("itemsize 0", name);
      t.itemsize = n;
      return unsupported("void dtype", name);
    }
    case 'M':
    case 'm': {
      if (have_size && (!size_ok || n != 8))
        return unsupported("descr '" + t.descr + "': invalid itemsize " + sizestr, t.descr);
      t.itemsize = 8;
      std::string base = kind == 'M' ? "datetime64" : "timedelta64";
      std::string name = order == '>' ? prefixed(std::string(1, kind) + "8" + unit) : base + unit;
      t.big_endian = order == '>';
      return unsupported(base, name);
    }
    default: return unsupported("unrecognised dtype descriptor '" + t.descr + "'", t.descr);
  }
}

uint64_t npy_header_total_length(const uint8_t* p, size_t n, const NpyLimits& limits) {
  size_t m = n < 6 ? n : 6;
  if (m == 0 || std::memcmp(p, kMagic, m) != 0)
    throw Error(Code::NpyBadMagic, "missing NPY magic \\x93NUMPY");
  if (n < 10)
    throw Error(Code::NpyBadMagic, "NPY data is only " + std::to_string(n) +
                                       " bytes, shorter than the 10-byte prefix");
  uint8_t major = p[6], minor = p[7];
  if (!((major == 1 || major == 2 || major == 3) && minor == 0))
    throw Error(Code::NpyBadVersion, "NPY format version (" + std::to_string(major) + "," +
                                         std::to_string(minor) +
                                         ") is not one of (1,0), (2,0), (3,0)");
  uint32_t prefix = major == 1 ? 10 : 12;
  if (n < prefix)
    throw Error(Code::NpyTruncated, "NPY v" + std::to_string(major) +
                                        " prefix needs 12 bytes, only " + std::to_string(n) +
                                        " available");
  uint32_t hlen = major == 1 ? static_cast<uint32_t>(p[8] | (p[9] << 8))
                             : static_cast<uint32_t>(p[8]) | (static_cast<uint32_t>(p[9]) << 8) |
                                   (static_cast<uint32_t>(p[10]) << 16) |
                                   (static_cast<uint32_t>(p[11]) << 24);
  uint32_t cap =
      limits.max_header_len < kHardMaxHeaderLen ? limits.max_header_len : kHardMaxHeaderLen;
  if (hlen > cap)
    throw Error(Code::NpyHeaderTooLarge, "NPY header length " + std::to_string(hlen) +
                                             " exceeds the cap of " + std::to_string(cap) +
                                             " bytes");
  return static_cast<uint64_t>(prefix) + hlen;
}

NpyHeader parse_npy_header(const uint8_t* p, size_t n, const NpyLimits& limits) {
  uint64_t total = npy_header_total_length(p, n, limits);
  if (n < total)
    throw Error(Code::NpyTruncated, "NPY header needs " + std::to_string(total) + " bytes, only " +
                                        std::to_string(n) + " available");
  NpyHeader h;
  h.major = p[6];
  h.minor = p[7];
  h.prefix = h.major == 1 ? 10 : 12;
  h.header_len = static_cast<uint32_t>(total - h.prefix);
  h.data_offset = total;
  const uint8_t* text = p + h.prefix;
  size_t len = h.header_len;
  if (len == 0 || text[len - 1] != '\n') bad_header("header does not end with a newline");
  for (size_t i = 0; i + 1 < len; ++i) {
    uint8_t c = text[i];
    if ((c < 0x20 && c != '\t') || c == 0x7F)
      bad_header("control byte in header: " +
                 token_at(std::string_view(reinterpret_cast<const char*>(text), len), i));
    if (c >= 0x80 && h.major != 3)
      bad_header("non-ASCII byte in a v" + std::to_string(h.major) + " header: " +
                 token_at(std::string_view(reinterpret_cast<const char*>(text), len), i));
  }
  if (h.major == 3 && !valid_utf8(text, len)) bad_header("v3 header is not valid UTF-8");
  std::string_view body(reinterpret_cast<const char*>(text), len - 1);
  HeaderParser parser(body, h.major != 3);
  parser.parse(&h);
  h.header_text = std::string(body.substr(0, parser.dict_end()));
  size_t lead = h.header_text.find('{');
  if (lead != std::string::npos && lead > 0) h.header_text.erase(0, lead);

  // Checked sizes: a zero dimension makes the array empty, but the other dimensions must still
  // multiply without overflow (strides are derived from them).
  uint64_t prod = 1;
  bool has_zero = false;
  for (uint64_t d : h.shape) {
    if (d == 0) {
      has_zero = true;
      continue;
    }
    if (!checked_mul(prod, d, &prod))
      throw Error(Code::NpyLengthOverflow,
                  "shape " + h.header_text + ": element count overflows 64 bits");
  }
  if (prod > kMaxSafeJs)
    throw Error(Code::NpyLengthOverflow,
                "element count " + std::to_string(prod) + " exceeds 2^53-1");
  uint64_t extent = 0;
  if (!checked_mul(prod, h.dtype.itemsize, &extent) || extent > kMaxSafeJs)
    throw Error(Code::NpyLengthOverflow, "array byte length (" + std::to_string(prod) + " x " +
                                             std::to_string(h.dtype.itemsize) +
                                             " bytes) exceeds 2^53-1");
  h.count = has_zero ? 0 : prod;
  h.byte_length = has_zero ? 0 : extent;
  return h;
}

}  // namespace npz
