#include "firmware/update/boot_state.h"

#include <algorithm>
#include <charconv>
#include <vector>

#include <fmt/format.h>

#include "common/bytes.h"

namespace faregate::update {

namespace {

constexpr std::string_view kFirstLine = "faregate-boot-state 1";

std::string slot_text(const std::optional<Slot>& s) {
  return s ? std::string(1, slot_letter(*s)) : "-";
}

std::string digest_text(const std::optional<crypto::Sha256Digest>& d) {
  return d ? to_hex(*d) : "-";
}

std::unexpected<Error> corrupt(std::string_view what) {
  return make_error(ErrorCode::kCorrupt, fmt::format("boot state damaged: {}", what));
}

// Splits "key value" lines; the text must end with a newline.
std::vector<std::pair<std::string_view, std::string_view>> split_lines(std::string_view body) {
  std::vector<std::pair<std::string_view, std::string_view>> lines;
  while (!body.empty()) {
    const auto nl = body.find('\n');
    if (nl == std::string_view::npos) return {};
    const std::string_view line = body.substr(0, nl);
    body.remove_prefix(nl + 1);
    const auto sp = line.find(' ');
    if (sp == std::string_view::npos) return {};
    lines.emplace_back(line.substr(0, sp), line.substr(sp + 1));
  }
  return lines;
}

template <typename T>
bool parse_number(std::string_view text, T& out) {
  if (text.empty() || text.size() > 20) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool parse_slot(std::string_view text, std::optional<Slot>& out) {
  if (text == "-") {
    out.reset();
  } else if (text == "a") {
    out = Slot::kA;
  } else if (text == "b") {
    out = Slot::kB;
  } else {
    return false;
  }
  return true;
}

bool parse_digest(std::string_view text, std::optional<crypto::Sha256Digest>& out) {
  if (text == "-") {
    out.reset();
    return true;
  }
  if (text.size() != 2 * crypto::kSha256Bytes) return false;
  auto bytes = from_hex(text);
  if (!bytes || bytes->size() != crypto::kSha256Bytes) return false;
  crypto::Sha256Digest d{};
  std::copy(bytes->begin(), bytes->end(), d.begin());
  out = d;
  return true;
}

}  // namespace

std::string encode_boot_state(const BootState& s) {
  std::string body = fmt::format(
      "{}\nactive {}\npending {}\npending_image {}\nconfirmed_a {}\nconfirmed_b {}\n"
      "trial_boots {}\nfailed_boots {}\nsecurity_counter {}\nboot_count {}\n",
      kFirstLine, slot_text(s.active), slot_text(s.pending), digest_text(s.pending_image),
      digest_text(s.confirmed_image[0]), digest_text(s.confirmed_image[1]), s.trial_boots,
      s.failed_boots, s.security_counter, s.boot_count);
  const auto check = crypto::sha256(as_bytes(body));
  return body + "check " + to_hex(check) + "\n";
}

Result<BootState> decode_boot_state(std::string_view text) {
  if (text.size() > kMaxBootStateBytes) return corrupt("file too large");
  if (!text.starts_with(kFirstLine) || text.size() <= kFirstLine.size() ||
      text[kFirstLine.size()] != '\n') {
    return corrupt("not a boot state file (first line)");
  }
  // The check line covers every byte before it, so a torn or edited file is caught here.
  const auto check_at = text.rfind("check ");
  if (check_at == std::string_view::npos || (check_at > 0 && text[check_at - 1] != '\n')) {
    return corrupt("check line missing");
  }
  const std::string_view body = text.substr(0, check_at);
  const std::string expected = "check " + to_hex(crypto::sha256(as_bytes(body))) + "\n";
  if (text.substr(check_at) != expected) return corrupt("check line does not match the contents");

  const auto lines = split_lines(body.substr(kFirstLine.size() + 1));
  static constexpr std::array<std::string_view, 9> kKeys = {
      "active",      "pending",      "pending_image",    "confirmed_a", "confirmed_b",
      "trial_boots", "failed_boots", "security_counter", "boot_count"};
  if (lines.size() != kKeys.size()) return corrupt("wrong number of lines");
  for (std::size_t i = 0; i < kKeys.size(); ++i) {
    if (lines[i].first != kKeys[i]) return corrupt(fmt::format("expected key {}", kKeys[i]));
  }
  BootState s;
  if (!parse_slot(lines[0].second, s.active)) return corrupt("active slot");
  if (!parse_slot(lines[1].second, s.pending)) return corrupt("pending slot");
  if (!parse_digest(lines[2].second, s.pending_image)) return corrupt("pending_image");
  if (!parse_digest(lines[3].second, s.confirmed_image[0])) return corrupt("confirmed_a");
  if (!parse_digest(lines[4].second, s.confirmed_image[1])) return corrupt("confirmed_b");
  if (!parse_number(lines[5].second, s.trial_boots)) return corrupt("trial_boots");
  if (!parse_number(lines[6].second, s.failed_boots)) return corrupt("failed_boots");
  if (!parse_number(lines[7].second, s.security_counter)) return corrupt("security_counter");
  if (!parse_number(lines[8].second, s.boot_count)) return corrupt("boot_count");

  if (s.pending.has_value() != s.pending_image.has_value()) {
    return corrupt("pending slot without its image hash");
  }
  if (s.pending && s.active && *s.pending == *s.active) {
    return corrupt("pending slot is the active slot");
  }
  if (s.active && !s.confirmed_image[slot_index(*s.active)]) {
    return corrupt("active slot was never confirmed");
  }
  return s;
}

}  // namespace faregate::update
