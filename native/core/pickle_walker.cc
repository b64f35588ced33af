// Whitelisting pickle walker (npy-npz-format.md §9.3) and the UCS-4 / bytes decoders (§9.4).
// Values live in an arena of symbolic nodes addressed by index: memo entries and the stack hold
// indices, so a list memoized before its APPENDs sees them (as in the real unpickler) and a
// BINGET never copies a string. Every count that grows with the input is capped.
// Over 400 lines on purpose: the walker is one state machine (opcode switch over one arena), and
// both results are read from that arena (strings of an object array; a plain value, where dict
// keys follow Python's equality); splitting them would spread one invariant (every node index
// checked, every expansion capped) over files.
#include "pickle_walker.h"
#include "utf8.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include "errors.h"

namespace npz {
namespace {

constexpr size_t kMaxMarkFrame = 1024;  // NumPy's APPENDS batches are 1,000 items
constexpr size_t kMaxGlobalLine = 64;
constexpr size_t kExtraNodes = 65536;  // structural nodes allowed on top of max_items

void append_utf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

enum class Kind : uint8_t {
  Int,
  Long,
  Float,
  Bool,
  None,
  Str,
  Bytes,
  Tuple,
  List,
  Dict,
  Global,
  Call,
  Built
};
enum class Glob : uint8_t { Reconstruct, Ndarray, Dtype, CodecsEncode };

struct Node {
  Kind kind = Kind::None;
  Glob glob = Glob::Ndarray;   // Kind::Global
  int64_t ival = 0;            // Int / Bool
  double fval = 0;             // Float
  uint32_t a = 0, b = 0;       // Call: callable, args; Built: obj, state
  std::string text;            // Str (UTF-8) / Bytes / Long (two's complement, little-endian)
  std::vector<uint32_t> kids;  // Tuple / List; Dict: key, value, key, value, ...
};

const char* opcode_name(uint8_t op) {
  switch (op) {
    case 0x80: return "PROTO";
    case 0x95: return "FRAME";
    case 'c': return "GLOBAL";
    case 0x93: return "STACK_GLOBAL";
    case 0x8c: return "SHORT_BINUNICODE";
    case 'X': return "BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 'C': return "SHORT_BINBYTES";
    case 'B': return "BINBYTES";
    case 'K': return "BININT1";
    case 'M': return "BININT2";
    case 'J': return "BININT";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 'G': return "BINFLOAT";
    case 'N': return "NONE";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case '(': return "MARK";
    case 't': return "TUPLE";
    case ')': return "EMPTY_TUPLE";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case ']': return "EMPTY_LIST";
    case '}': return "EMPTY_DICT";
    case 's': return "SETITEM";
    case 'u': return "SETITEMS";
    case 'a': return "APPEND";
    case 'e': return "APPENDS";
    case 'R': return "REDUCE";
    case 'b': return "BUILD";
    case 0x94: return "MEMOIZE";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 'h': return "BINGET";
    case 'j': return "LONG_BINGET";
    case '.': return "STOP";
  }
  return "unknown opcode";
}

class Walker {
 public:
  Walker(const uint8_t* p, size_t n, const PickleLimits& lim) : p_(p), n_(n), lim_(lim) {}

  uint32_t run(size_t* stop_end) {
    if (n_ < 2 || p_[0] != 0x80) {
      op_pos_ = 0;
      op_ = n_ ? p_[0] : 0;
      refuse("pickle must start with PROTO");
    }
    for (;;) {
      if (pos_ >= n_) {
        op_pos_ = pos_;
        op_ = 0;
        refuse("truncated pickle: no STOP opcode");
      }
      op_pos_ = pos_;
      op_ = p_[pos_++];
      if (++opcodes_ > lim_.max_opcodes)
        refuse("more than " + std::to_string(lim_.max_opcodes) + " opcodes");
      if (op_pos_ != 0 && op_ == 0x80) refuse("PROTO must be the first opcode");
      switch (op_) {
        case 0x80: {
          uint8_t v = u8();
          if (v < 2 || v > 5) refuse("pickle protocol " + std::to_string(v) + " not accepted");
          proto_ = v;
          break;
        }
        case 0x95: {
          uint64_t len = uint_le(8);
          if (len > n_ - pos_)
            refuse("FRAME length " + std::to_string(len) + " exceeds the remaining " +
                   std::to_string(n_ - pos_) + " bytes");
          break;
        }
        case 'c': {
          std::string module = line();
          std::string name = line();
          push(make_global(module, name));
          break;
        }
        case 0x93: {
          uint32_t name = pop();
          uint32_t module = pop();
          if (nodes_[name].kind != Kind::Str || nodes_[module].kind != Kind::Str)
            refuse("STACK_GLOBAL needs two strings");
          push(make_global(nodes_[module].text, nodes_[name].text));
          break;
        }
        case 0x8c: push_text(uint_le(1), true); break;
        case 'X': push_text(uint_le(4), true); break;
        case 0x8d: push_text(uint_le(8), true); break;
        case 'C': push_text(uint_le(1), false); break;
        case 'B': push_text(uint_le(4), false); break;
        case 'K': push_int(static_cast<int64_t>(uint_le(1))); break;
        case 'M': push_int(static_cast<int64_t>(uint_le(2))); break;
        case 'J': {
          uint32_t raw = static_cast<uint32_t>(uint_le(4));
          int32_t v;
          std::memcpy(&v, &raw, 4);
          push_int(v);
          break;
        }
        case 0x8a: push_long(uint_le(1)); break;
        case 0x8b: push_long(uint_le(4)); break;
        case 'G': {
          uint64_t bits = 0;
          for (uint8_t byte : bytes(8)) bits = (bits << 8) | byte;  // big-endian IEEE 754
          uint32_t f = new_node(Kind::Float);
          std::memcpy(&nodes_[f].fval, &bits, 8);
          push(f);
          break;
        }
        case 'N': push(none_node()); break;
        case 0x88: push(bool_node(true)); break;
        case 0x89: push(bool_node(false)); break;
        case '(':
          if (marks_.size() >= lim_.max_stack)
            refuse("MARK nesting deeper than " + std::to_string(lim_.max_stack));
          marks_.push_back(stack_.size());
          break;
        case 't': {
          size_t m = pop_mark();
          uint32_t t = new_node(Kind::Tuple);
          nodes_[t].kids.assign(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
          stack_.resize(m);
          push(t);
          break;
        }
        case ')': push(new_node(Kind::Tuple)); break;
        case 0x85:
        case 0x86:
        case 0x87: {
          size_t k = static_cast<size_t>(op_ - 0x84);
          if (frame_size() < k) refuse("stack underflow");
          uint32_t t = new_node(Kind::Tuple);
          nodes_[t].kids.assign(stack_.end() - static_cast<std::ptrdiff_t>(k), stack_.end());
          stack_.resize(stack_.size() - k);
          push(t);
          break;
        }
        case ']': push(new_node(Kind::List)); break;
        case '}': push(new_node(Kind::Dict)); break;
        case 's': {
          uint32_t kv[2];
          kv[1] = pop();
          kv[0] = pop();
          set_items(top(), kv, 2);
          break;
        }
        case 'u': {
          size_t m = pop_mark();
          std::vector<uint32_t> batch(stack_.begin() + static_cast<std::ptrdiff_t>(m),
                                      stack_.end());
          stack_.resize(m);
          if (batch.size() % 2 != 0) refuse("SETITEMS with an odd number of values");
          set_items(top(), batch.data(), batch.size());
          break;
        }
        case 'a': {
          uint32_t v = pop();
          append_items(top(), &v, 1);
          break;
        }
        case 'e': {
          size_t m = pop_mark();
          std::vector<uint32_t> batch(stack_.begin() + static_cast<std::ptrdiff_t>(m),
                                      stack_.end());
          stack_.resize(m);
          append_items(top(), batch.data(), batch.size());
          break;
        }
        case 'R': {
          uint32_t args = pop();
          uint32_t fn = pop();
          push(reduce(fn, args));
          break;
        }
        case 'b': {
          uint32_t state = pop();
          uint32_t obj = pop();
          uint32_t b = new_node(Kind::Built);
          nodes_[b].a = obj;
          nodes_[b].b = state;
          push(b);
          break;
        }
        case 0x94: memo_put(memo_next_, top()); break;
        case 'q': memo_put(uint_le(1), top()); break;
        case 'r': memo_put(uint_le(4), top()); break;
        case 'h': push(memo_get(uint_le(1))); break;
        case 'j': push(memo_get(uint_le(4))); break;
        case '.': {
          if (!marks_.empty()) refuse("STOP inside an open MARK");
          if (stack_.size() != 1)
            refuse("STOP with " + std::to_string(stack_.size()) + " values on the stack");
          *stop_end = pos_;
          return stack_.back();
        }
        default: refuse("opcode not allowed");
      }
    }
  }

  // Checks the accepted final value (§9.3): numpy's object array of expected_shape. Returns the
  // node of its items list (one item per element, C order) and the pickled is_fortran flag.
  uint32_t array_items(uint32_t root, const std::vector<uint64_t>& expected_shape,
                       bool* fortran_order) {
    const Node& built = nodes_[root];
    if (built.kind != Kind::Built) refuse("result is not a BUILD of an ndarray");
    const Node& call = nodes_[built.a];
    if (call.kind != Kind::Call || !is_global(call.a, Glob::Reconstruct))
      refuse("result is not numpy's _reconstruct(ndarray, ...)");
    const Node& cargs = nodes_[call.b];
    if (cargs.kids.size() != 3 || !is_global(cargs.kids[0], Glob::Ndarray))
      refuse("_reconstruct arguments are not (ndarray, (0,), b'b')");
    const Node& zero = nodes_[cargs.kids[1]];
    if (zero.kind != Kind::Tuple || zero.kids.size() != 1 || !is_int(zero.kids[0], 0))
      refuse("_reconstruct arguments are not (ndarray, (0,), b'b')");
    const Node& bb = nodes_[cargs.kids[2]];
    if (bb.kind != Kind::Bytes || bb.text != "b")
      refuse("_reconstruct arguments are not (ndarray, (0,), b'b')");

    const Node& state = nodes_[built.b];
    if (state.kind != Kind::Tuple || state.kids.size() != 5 || !is_int(state.kids[0], 1))
      refuse("ndarray state is not (1, shape, dtype, is_fortran, items)");
    const Node& shape = nodes_[state.kids[1]];
    if (shape.kind != Kind::Tuple) refuse("ndarray state shape is not a tuple");
    if (shape.kids.size() != expected_shape.size())
      refuse("pickled shape does not match the NPY header shape");
    uint64_t count = 1;
    for (size_t i = 0; i < shape.kids.size(); ++i) {
      const Node& d = nodes_[shape.kids[i]];
      if (d.kind != Kind::Int || d.ival < 0 || static_cast<uint64_t>(d.ival) != expected_shape[i])
        refuse("pickled shape does not match the NPY header shape");
      uint64_t dim = static_cast<uint64_t>(d.ival);
      if (dim != 0 && count > UINT64_MAX / dim) refuse("pickled shape overflows");
      count *= dim;
      if (count > lim_.max_items) refuse("more than " + std::to_string(lim_.max_items) + " items");
    }
    check_dtype(state.kids[2]);
    const Node& fortran = nodes_[state.kids[3]];
    if (fortran.kind != Kind::Bool) refuse("ndarray state is_fortran is not a bool");
    const Node& items = nodes_[state.kids[4]];
    if (items.kind != Kind::List) refuse("ndarray state items are not a list");
    if (items.kids.size() != count)
      refuse("pickled list has " + std::to_string(items.kids.size()) + " items, shape needs " +
             std::to_string(count));
    *fortran_order = fortran.ival != 0;
    return state.kids[4];
  }

  // The strings of an object array of str/None.
  ObjectStrings extract(uint32_t root, const std::vector<uint64_t>& expected_shape) {
    ObjectStrings out;
    bool fortran = false;
    const Node& items = nodes_[array_items(root, expected_shape, &fortran)];
    uint64_t text_total = 0;
    out.items.reserve(items.kids.size());
    for (uint32_t k : items.kids) {
      const Node& it = nodes_[k];
      if (it.kind == Kind::None) {
        out.items.emplace_back(std::nullopt);
      } else if (it.kind == Kind::Str) {
        text_total += it.text.size();
        if (text_total > lim_.max_text)
          refuse("item text exceeds " + std::to_string(lim_.max_text) + " bytes");
        out.items.emplace_back(it.text);
      } else {
        refuse("array item is neither str nor None");
      }
    }
    // Observed with numpy 2.4: object-array pickles list the items in C (row-major) order even
    // when is_fortran is True (the flag only describes the memory layout numpy rebuilds), so
    // items are returned in C order and fortran_order is informational.
    out.shape = expected_shape;
    out.fortran_order = fortran;
    return out;
  }

  // The one item of a one-element object array, as a plain value.
  PlainValue extract_value(uint32_t root, const std::vector<uint64_t>& expected_shape) {
    bool fortran = false;
    const Node& items = nodes_[array_items(root, expected_shape, &fortran)];
    if (items.kids.size() != 1)
      refuse("object array holds " + std::to_string(items.kids.size()) + " items, not one value");
    return plain(items.kids[0], 0);
  }

  [[noreturn]] void refuse(const std::string& why) const {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", op_);
    throw Error(Code::NpyPickleRefused, "pickle refused at offset " + std::to_string(op_pos_) +
                                            " (opcode " + buf + " " + opcode_name(op_) +
                                            "): " + why);
  }

 private:
  uint8_t u8() {
    if (pos_ >= n_) refuse("truncated argument");
    return p_[pos_++];
  }
  uint64_t uint_le(size_t k) {
    if (n_ - pos_ < k) refuse("truncated argument");
    uint64_t v = 0;
    for (size_t i = 0; i < k; ++i) v |= static_cast<uint64_t>(p_[pos_ + i]) << (8 * i);
    pos_ += k;
    return v;
  }
  std::vector<uint8_t> bytes(size_t k) {
    if (n_ - pos_ < k) refuse("truncated argument");
    std::vector<uint8_t> v(p_ + pos_, p_ + pos_ + k);
    pos_ += k;
    return v;
  }
  std::string line() {
    size_t start = pos_;
    while (pos_ < n_ && p_[pos_] != '\n') {
      if (pos_ - start >= kMaxGlobalLine) refuse("GLOBAL line longer than 64 bytes");
      if (p_[pos_] < 0x20 || p_[pos_] > 0x7E) refuse("GLOBAL line is not printable ASCII");
      ++pos_;
    }
    if (pos_ >= n_) refuse("truncated GLOBAL line");
    std::string s(reinterpret_cast<const char*>(p_ + start), pos_ - start);
    ++pos_;
    return s;
  }

  uint32_t new_node(Kind k) {
    if (nodes_.size() >= lim_.max_items + kExtraNodes) refuse("too many objects");
    nodes_.emplace_back();
    nodes_.back().kind = k;
    return static_cast<uint32_t>(nodes_.size() - 1);
  }
  uint32_t none_node() {
    if (!none_) none_ = new_node(Kind::None);
    return *none_;
  }
  uint32_t bool_node(bool v) {
    std::optional<uint32_t>& slot = v ? true_ : false_;
    if (!slot) {
      slot = new_node(Kind::Bool);
      nodes_[*slot].ival = v;
    }
    return *slot;
  }
  void push_int(int64_t v) {
    uint32_t i = new_node(Kind::Int);
    nodes_[i].ival = v;
    push(i);
  }
  void push_text(uint64_t len, bool unicode) {
    if (len > n_ - pos_)
      refuse("string length " + std::to_string(len) + " exceeds the remaining " +
             std::to_string(n_ - pos_) + " bytes");
    text_total_ += len;
    if (text_total_ > lim_.max_text)
      refuse("total text exceeds " + std::to_string(lim_.max_text) + " bytes");
    if (unicode && !valid_utf8(p_ + pos_, static_cast<size_t>(len)))
      refuse("string is not valid UTF-8");
    uint32_t i = new_node(unicode ? Kind::Str : Kind::Bytes);
    nodes_[i].text.assign(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    push(i);
  }

  void push_long(uint64_t len) {
    if (len > lim_.max_long_bytes)
      refuse("integer of " + std::to_string(len) + " bytes exceeds " +
             std::to_string(lim_.max_long_bytes));
    if (len > n_ - pos_) refuse("truncated argument");
    uint32_t i = new_node(Kind::Long);
    nodes_[i].text.assign(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    push(i);
  }

  void set_items(uint32_t dict, const uint32_t* kv, size_t k) {
    Node& d = nodes_[dict];
    if (d.kind != Kind::Dict) refuse("SETITEM target is not a dict");
    items_total_ += k / 2;
    if (items_total_ > lim_.max_items)
      refuse("more than " + std::to_string(lim_.max_items) + " list items");
    d.kids.insert(d.kids.end(), kv, kv + k);
  }

  // --- plain values (walk_object_value) ---------------------------------------------------

  static void set_int(PlainValue* v, bool negative, std::vector<uint64_t> words) {
    while (!words.empty() && words.back() == 0) words.pop_back();
    v->type = PlainValue::Type::Int;
    v->magnitude = std::move(words);
    v->negative = negative && !v->magnitude.empty();
  }

  static void decode_long(const std::string& le, PlainValue* v) {
    std::vector<uint8_t> b(le.begin(), le.end());
    const bool neg = !b.empty() && (b.back() & 0x80) != 0;
    if (neg) {  // two's complement -> magnitude
      unsigned carry = 1;
      for (uint8_t& x : b) {
        unsigned t = static_cast<uint8_t>(~x) + carry;
        x = static_cast<uint8_t>(t);
        carry = t >> 8;
      }
    }
    std::vector<uint64_t> words((b.size() + 7) / 8, 0);
    for (size_t i = 0; i < b.size(); ++i)
      words[i / 8] |= static_cast<uint64_t>(b[i]) << (8 * (i % 8));
    set_int(v, neg, std::move(words));
  }

  // Python's dict-key identity: equal keys (1 == 1.0 == True, 0.0 == -0.0) give equal strings.
  std::string key_identity(const PlainValue& k) const {
    using T = PlainValue::Type;
    auto int_id = [](bool negative, const std::vector<uint64_t>& words) {
      std::string id = negative ? "i-" : "i+";
      for (uint64_t w : words) id.append(reinterpret_cast<const char*>(&w), sizeof w);
      return id;
    };
    switch (k.type) {
      case T::Str: return "s" + k.text;
      case T::None: return "N";
      case T::Bool:
        return int_id(false, k.boolean ? std::vector<uint64_t>{1} : std::vector<uint64_t>{});
      case T::Int: return int_id(k.negative, k.magnitude);
      case T::Float: {
        const double f = k.number;
        if (std::isnan(f)) refuse("dict key is a float NaN");
        if (std::isfinite(f) && std::trunc(f) == f) {
          if (std::fabs(f) >= 9223372036854775808.0)
            refuse("dict key is an integral float beyond 2**63");
          const double a = std::fabs(f);
          const uint64_t m = static_cast<uint64_t>(a);
          return int_id(f < 0 && m != 0, m ? std::vector<uint64_t>{m} : std::vector<uint64_t>{});
        }
        uint64_t bits;
        std::memcpy(&bits, &f, sizeof bits);
        return "f" + std::string(reinterpret_cast<const char*>(&bits), sizeof bits);
      }
      default:
        refuse(
            "dict key is a list, tuple or dict (json.dumps accepts only str, int, float, bool, "
            "None keys)");
    }
  }

  PlainValue plain(uint32_t idx, size_t depth) {
    if (depth > lim_.max_depth)
      refuse("value nested deeper than " + std::to_string(lim_.max_depth) + " levels (or a cycle)");
    if (++values_out_ > lim_.max_values)
      refuse("more than " + std::to_string(lim_.max_values) + " values");
    const Node& n = nodes_[idx];
    PlainValue v;
    using T = PlainValue::Type;
    switch (n.kind) {
      case Kind::None: v.type = T::None; break;
      case Kind::Bool:
        v.type = T::Bool;
        v.boolean = n.ival != 0;
        break;
      case Kind::Int: {
        const uint64_t m =
            n.ival < 0 ? static_cast<uint64_t>(-(n.ival + 1)) + 1 : static_cast<uint64_t>(n.ival);
        set_int(&v, n.ival < 0, {m});
        break;
      }
      case Kind::Long: decode_long(n.text, &v); break;
      case Kind::Float:
        v.type = T::Float;
        v.number = n.fval;
        break;
      case Kind::Str:
        text_out_ += n.text.size();
        if (text_out_ > lim_.max_text)
          refuse("value text exceeds " + std::to_string(lim_.max_text) + " bytes");
        v.type = T::Str;
        v.text = n.text;
        break;
      case Kind::List:
      case Kind::Tuple: {
        v.type = n.kind == Kind::List ? T::List : T::Tuple;
        const std::vector<uint32_t>& kids = n.kids;  // nodes_ does not grow while values are built
        v.items.reserve(kids.size());
        for (uint32_t k : kids) v.items.push_back(plain(k, depth + 1));
        break;
      }
      case Kind::Dict: {
        v.type = T::Dict;
        const std::vector<uint32_t>& kids = n.kids;
        std::map<std::string, size_t> seen;  // key identity -> index of its value in v.items
        for (size_t i = 0; i + 1 < kids.size(); i += 2) {
          PlainValue key = plain(kids[i], depth + 1);
          std::string id = key_identity(key);
          PlainValue val = plain(kids[i + 1], depth + 1);
          auto it = seen.find(id);
          if (it != seen.end()) {
            v.items[it->second] = std::move(val);
          } else {
            seen.emplace(std::move(id), v.items.size() + 1);
            v.items.push_back(std::move(key));
            v.items.push_back(std::move(val));
          }
        }
        break;
      }
      case Kind::Bytes: refuse("value is bytes (json.dumps refuses bytes)");
      default: refuse("value is not a plain str, int, float, bool, None, list, tuple or dict");
    }
    return v;
  }

  uint32_t make_global(const std::string& module, const std::string& name) {
    Glob g;
    if ((module == "numpy._core.multiarray" || module == "numpy.core.multiarray") &&
        name == "_reconstruct")
      g = Glob::Reconstruct;
    else if (module == "numpy" && name == "ndarray") g = Glob::Ndarray;
    else if (module == "numpy" && name == "dtype") g = Glob::Dtype;
    else if (module == "_codecs" && name == "encode" && proto_ == 2) g = Glob::CodecsEncode;
    else refuse("global " + printable(module) + "." + printable(name) + " is not whitelisted");
    uint32_t i = new_node(Kind::Global);
    nodes_[i].glob = g;
    return i;
  }
  static std::string printable(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (out.size() >= 64) {
        out += "...";
        break;
      }
      out += (c >= 0x20 && c < 0x7F) ? c : '?';
    }
    return out;
  }

  uint32_t reduce(uint32_t fn, uint32_t args) {
    const Node& f = nodes_[fn];
    if (f.kind != Kind::Global) refuse("REDUCE of a non-global callable");
    if (nodes_[args].kind != Kind::Tuple) refuse("REDUCE arguments are not a tuple");
    if (f.glob == Glob::Ndarray) refuse("REDUCE calls numpy.ndarray directly");
    if (f.glob == Glob::CodecsEncode) {
      // Protocol 2 spells b'b' as _codecs.encode('b', 'latin1'); fold it into Bytes.
      const Node& a = nodes_[args];
      if (a.kids.size() != 2 || nodes_[a.kids[0]].kind != Kind::Str ||
          nodes_[a.kids[1]].kind != Kind::Str || nodes_[a.kids[1]].text != "latin1")
        refuse("_codecs.encode is only accepted as encode(str, 'latin1')");
      std::string bytes;
      const std::string& s = nodes_[a.kids[0]].text;
      for (size_t i = 0; i < s.size(); ++i) {
        uint8_t c = static_cast<uint8_t>(s[i]);
        if (c < 0x80) {
          bytes.push_back(static_cast<char>(c));
          continue;
        }
        // two-byte UTF-8 sequences C2/C3 xx are exactly latin-1; anything above is not encodable
        if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size()) {
          bytes.push_back(
              static_cast<char>(((c & 0x03) << 6) | (static_cast<uint8_t>(s[i + 1]) & 0x3F)));
          ++i;
          continue;
        }
        refuse("_codecs.encode argument is not latin-1");
      }
      uint32_t b = new_node(Kind::Bytes);
      nodes_[b].text = std::move(bytes);
      return b;
    }
    uint32_t c = new_node(Kind::Call);
    nodes_[c].a = fn;
    nodes_[c].b = args;
    return c;
  }

  void append_items(uint32_t list, const uint32_t* v, size_t k) {
    Node& l = nodes_[list];
    if (l.kind != Kind::List) refuse("APPEND target is not a list");
    items_total_ += k;
    if (items_total_ > lim_.max_items)
      refuse("more than " + std::to_string(lim_.max_items) + " list items");
    l.kids.insert(l.kids.end(), v, v + k);
  }

  void memo_put(uint64_t idx, uint32_t v) {
    if (idx >= lim_.max_memo) refuse("memo index " + std::to_string(idx) + " beyond the memo cap");
    if (idx >= memo_.size()) memo_.resize(static_cast<size_t>(idx) + 1, kNoMemo);
    memo_[static_cast<size_t>(idx)] = v;
    if (idx >= memo_next_) memo_next_ = idx + 1;
  }
  uint32_t memo_get(uint64_t idx) {
    if (idx >= memo_.size() || memo_[static_cast<size_t>(idx)] == kNoMemo)
      refuse("memo entry " + std::to_string(idx) + " does not exist");
    return memo_[static_cast<size_t>(idx)];
  }

  size_t frame_size() const { return stack_.size() - (marks_.empty() ? 0 : marks_.back()); }
  void push(uint32_t v) {
    size_t cap = marks_.empty() ? lim_.max_stack : kMaxMarkFrame;
    if (frame_size() >= cap)
      refuse("stack overflow (more than " + std::to_string(cap) + " values)");
    stack_.push_back(v);
  }
  uint32_t pop() {
    if (frame_size() == 0) refuse("stack underflow");
    uint32_t v = stack_.back();
    stack_.pop_back();
    return v;
  }
  uint32_t top() const {
    if (frame_size() == 0) refuse("stack underflow");
    return stack_.back();
  }
  size_t pop_mark() {
    if (marks_.empty()) refuse("no MARK to close");
    size_t m = marks_.back();
    marks_.pop_back();
    return m;
  }

  bool is_global(uint32_t i, Glob g) const {
    return nodes_[i].kind == Kind::Global && nodes_[i].glob == g;
  }
  bool is_int(uint32_t i, int64_t v) const {
    return nodes_[i].kind == Kind::Int && nodes_[i].ival == v;
  }

  // Built(Call(dtype, ('O8', Bool, Bool)), (Int, '|', ...))
  void check_dtype(uint32_t i) {
    const Node& b = nodes_[i];
    if (b.kind != Kind::Built) refuse("array dtype is not a built numpy.dtype");
    const Node& c = nodes_[b.a];
    if (c.kind != Kind::Call || !is_global(c.a, Glob::Dtype))
      refuse("array dtype is not numpy.dtype(...)");
    const Node& a = nodes_[c.b];
    if (a.kids.size() != 3 || nodes_[a.kids[0]].kind != Kind::Str ||
        nodes_[a.kids[0]].text != "O8" || nodes_[a.kids[1]].kind != Kind::Bool ||
        nodes_[a.kids[2]].kind != Kind::Bool)
      refuse("array dtype is not dtype('O8', bool, bool)");
    const Node& st = nodes_[b.b];
    if (st.kind != Kind::Tuple || st.kids.size() < 2 || nodes_[st.kids[0]].kind != Kind::Int ||
        nodes_[st.kids[1]].kind != Kind::Str || nodes_[st.kids[1]].text != "|")
      refuse("object dtype state is not (version, '|', ...)");
  }

  static constexpr uint32_t kNoMemo = 0xFFFFFFFFu;
  const uint8_t* p_;
  size_t n_;
  const PickleLimits& lim_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  uint8_t op_ = 0;
  int proto_ = 0;
  uint64_t opcodes_ = 0;
  uint64_t text_total_ = 0;
  uint64_t items_total_ = 0;
  uint64_t memo_next_ = 0;
  uint64_t values_out_ = 0;
  uint64_t text_out_ = 0;
  std::vector<Node> nodes_;
  std::vector<uint32_t> stack_;
  std::vector<size_t> marks_;
  std::vector<uint32_t> memo_;
  std::optional<uint32_t> none_, true_, false_;
};

}  // namespace

ObjectStrings walk_object_pickle(const uint8_t* p, size_t n,
                                 const std::vector<uint64_t>& expected_shape,
                                 const PickleLimits& limits) {
  Walker w(p, n, limits);
  size_t end = 0;
  uint32_t root = w.run(&end);
  ObjectStrings out = w.extract(root, expected_shape);
  out.trailing_bytes = end < n;
  return out;
}

PlainValue walk_object_value(const uint8_t* p, size_t n,
                             const std::vector<uint64_t>& expected_shape,
                             const PickleLimits& limits) {
  Walker w(p, n, limits);
  size_t end = 0;
  uint32_t root = w.run(&end);
  return w.extract_value(root, expected_shape);
}

bool ucs4_to_utf8(const uint8_t* p, size_t nbytes, bool big_endian, std::string* out) {
  out->clear();
  if (nbytes % 4 != 0) return false;
  size_t units = nbytes / 4;
  auto unit = [&](size_t i) {
    const uint8_t* q = p + 4 * i;
    return big_endian
               ? (uint32_t{q[0]} << 24) | (uint32_t{q[1]} << 16) | (uint32_t{q[2]} << 8) | q[3]
               : (uint32_t{q[3]} << 24) | (uint32_t{q[2]} << 16) | (uint32_t{q[1]} << 8) | q[0];
  };
  while (units > 0 && unit(units - 1) == 0) --units;
  out->reserve(units);
  for (size_t i = 0; i < units; ++i) {
    uint32_t cp = unit(i);
    if (cp > 0x10FFFF) return false;
    // numpy stores lone surrogates (Python str allows them) but UTF-8 cannot carry them:
    // substitute U+FFFD, as a UTF-8 consumer would. array() keeps the exact code units.
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
    append_utf8(cp, out);
  }
  return true;
}

bool bytes_to_utf8(const uint8_t* p, size_t nbytes, std::string* out) {
  while (nbytes > 0 && p[nbytes - 1] == 0) --nbytes;
  out->assign(reinterpret_cast<const char*>(p), nbytes);
  return valid_utf8(p, nbytes);
}

}  // namespace npz
