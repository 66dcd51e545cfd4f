#include "auth/sigv4_canonical.h"

#include <fmt/format.h>

#include <algorithm>

namespace kumo::auth {
namespace {

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Leading and trailing blanks off, inner runs of blanks down to one space.
std::string trim_collapse(std::string_view v) {
  std::string out;
  bool blank = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      blank = true;
      continue;
    }
    if (blank && !out.empty()) out.push_back(' ');
    blank = false;
    out.push_back(c);
  }
  return out;
}

// Resolves empty, "." and ".." segments; keeps a trailing slash as the suite does.
std::string normalize_path(std::string_view path) {
  std::vector<std::string_view> segs;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(pos, end - pos);
    if (seg == "..") {
      if (!segs.empty()) segs.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segs.push_back(seg);
    }
    pos = end + 1;
  }
  std::string out;
  for (std::string_view seg : segs) {
    out.push_back('/');
    out.append(seg);
  }
  bool trailing =
      path.size() > 1 && (path.back() == '/' || path.ends_with("/.") || path.ends_with("/.."));
  if (out.empty() || (trailing && !segs.empty())) out.push_back('/');
  return out;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0xf]);
    }
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex_value(s[i + 1]);
    int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::optional<std::string> canonical_uri(std::string_view path, bool s3_rules) {
  if (path.empty()) return std::string("/");
  if (!s3_rules) return uri_encode(normalize_path(path), true);
  // Segment by segment, so an encoded slash ("%2F") inside a key stays encoded.
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t end = path.find('/', pos);
    auto segment =
        percent_decode(path.substr(pos, end == std::string_view::npos ? end : end - pos));
    if (!segment) return std::nullopt;
    out.append(uri_encode(*segment, false));
    if (end == std::string_view::npos) return out;
    out.push_back('/');
    pos = end + 1;
  }
}

std::optional<std::vector<QueryParam>> parse_query(std::string_view raw, size_t max_params) {
  std::vector<QueryParam> params;
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t end = raw.find('&', pos);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view item = raw.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) continue;
    if (params.size() == max_params) return std::nullopt;
    size_t eq = item.find('=');
    auto name = percent_decode(item.substr(0, eq));
    auto value = percent_decode(eq == std::string_view::npos ? "" : item.substr(eq + 1));
    if (!name || !value) return std::nullopt;
    params.emplace_back(std::move(*name), std::move(*value));
  }
  return params;
}

std::string canonical_query(const std::vector<QueryParam>& params, std::string_view skip) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (const auto& [name, value] : params) {
    if (!skip.empty() && name == skip) continue;
    encoded.emplace_back(uri_encode(name, false), uri_encode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out.append(name).append("=").append(value);
  }
  return out;
}

std::optional<std::string> header_value(const std::vector<Header>& headers, std::string_view name) {
  std::optional<std::string> out;
  for (const auto& [n, v] : headers) {
    if (!iequals(n, name)) continue;
    if (out) {
      out->push_back(',');
      out->append(trim_collapse(v));
    } else {
      out = trim_collapse(v);
    }
  }
  return out;
}

tl::expected<std::string, std::string> canonical_headers(
    const std::vector<Header>& headers, const std::vector<std::string>& signed_names) {
  std::string out;
  for (const std::string& name : signed_names) {
    auto value = header_value(headers, name);
    if (!value) return tl::unexpected(name);
    out.append(name).append(":").append(*value).append("\n");
  }
  return out;
}

std::optional<SysTime> parse_amz_date(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  int v[6];
  static constexpr int kStart[] = {0, 4, 6, 9, 11, 13};
  static constexpr int kLen[] = {4, 2, 2, 2, 2, 2};
  for (int i = 0; i < 6; ++i) {
    v[i] = 0;
    for (int j = 0; j < kLen[i]; ++j) {
      char c = s[kStart[i] + j];
      if (c < '0' || c > '9') return std::nullopt;
      v[i] = v[i] * 10 + (c - '0');
    }
  }
  using namespace std::chrono;
  year_month_day ymd{year(v[0]), month(static_cast<unsigned>(v[1])),
                     day(static_cast<unsigned>(v[2]))};
  if (!ymd.ok() || v[3] > 23 || v[4] > 59 || v[5] > 60) return std::nullopt;
  return sys_days(ymd) + hours(v[3]) + minutes(v[4]) + seconds(v[5]);
}

std::string format_amz_date(SysTime t) {
  using namespace std::chrono;
  auto day_point = floor<days>(t);
  year_month_day ymd(day_point);
  hh_mm_ss hms(floor<seconds>(t - day_point));
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

std::optional<SysTime> parse_http_date(std::string_view s) {
  // "Sun, 30 Aug 2015 12:36:00 GMT": fixed width, 29 characters.
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (s.size() != 29 || s.substr(3, 2) != ", " || s.substr(25) != " GMT") return std::nullopt;
  size_t m = kMonths.find(s.substr(8, 3));
  if (m == std::string_view::npos || m % 3 != 0) return std::nullopt;
  std::string amz;
  amz.append(s.substr(12, 4))
      .append(fmt::format("{:02}", m / 3 + 1))
      .append(s.substr(5, 2))
      .append("T");
  amz.append(s.substr(17, 2)).append(s.substr(20, 2)).append(s.substr(23, 2)).append("Z");
  if (s[19] != ':' || s[22] != ':') return std::nullopt;
  return parse_amz_date(amz);
}

}  // namespace kumo::auth
