#include "simulator/cards/transcript_card.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace faregate::simulator {

namespace {

using json = nlohmann::json;
constexpr std::string_view kFormat = "faregate-card-transcript/1";

std::unexpected<Error> invalid(std::string message) {
  return std::unexpected(Error{ErrorCode::kInvalidArgument, std::move(message)});
}

Result<Bytes> hex_member(const json& object, const char* name, std::size_t max_bytes) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return invalid(std::string("'") + name + "' missing");
  auto bytes = from_hex(it->get<std::string>());
  if (!bytes) return invalid(std::string("'") + name + "': " + bytes.error().message);
  if (bytes->size() > max_bytes) return invalid(std::string("'") + name + "' is too long");
  return bytes;
}

bool matches(std::string_view pattern, std::string_view actual_hex) {
  if (pattern.size() != actual_hex.size()) return false;
  for (std::size_t i = 0; i < pattern.size(); i += 2) {
    if (pattern.substr(i, 2) == "??") continue;
    if (pattern.substr(i, 2) != actual_hex.substr(i, 2)) return false;
  }
  return true;
}

bool valid_pattern(std::string& pattern) {
  for (char& c : pattern) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (pattern.empty() || pattern.size() % 2 != 0) return false;
  for (std::size_t i = 0; i < pattern.size(); i += 2) {
    const std::string pair = pattern.substr(i, 2);
    if (pair == "??") continue;
    if (!std::isxdigit(static_cast<unsigned char>(pair[0])) ||
        !std::isxdigit(static_cast<unsigned char>(pair[1]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<Transcript> parse_transcript(std::string_view text) {
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return invalid("transcript is not a JSON object");
  if (doc.value("format", "") != kFormat) {
    return invalid("transcript format must be \"" + std::string(kFormat) + "\"");
  }
  Transcript t;
  t.about = doc.value("about", "");
  const auto card = doc.find("card");
  if (card == doc.end() || !card->is_object()) return invalid("'card' object missing");
  auto uid = hex_member(*card, "uid", 10);
  auto atqa = hex_member(*card, "atqa", 2);
  auto sak = hex_member(*card, "sak", 1);
  auto ats = hex_member(*card, "ats", 64);
  if (!uid) return with_context(uid.error(), "card");
  if (!atqa) return with_context(atqa.error(), "card");
  if (!sak) return with_context(sak.error(), "card");
  if (!ats) return with_context(ats.error(), "card");
  if (uid->empty() || atqa->size() != 2 || sak->size() != 1) {
    return invalid("card: uid must not be empty, atqa is 2 bytes, sak 1 byte");
  }
  t.card = {*uid, static_cast<std::uint16_t>((*atqa)[0] << 8 | (*atqa)[1]), (*sak)[0], *ats};
  const auto exchanges = doc.find("exchanges");
  if (exchanges == doc.end() || !exchanges->is_array()) return invalid("'exchanges' array missing");
  std::size_t n = 0;
  for (const json& e : *exchanges) {
    ++n;
    const std::string where = "exchange " + std::to_string(n);
    if (!e.is_object() || !e.contains("command") || !e["command"].is_string()) {
      return invalid(where + ": 'command' missing");
    }
    std::string command = e["command"].get<std::string>();
    if (!valid_pattern(command) || command.size() / 2 > hal::kMaxCommandApduBytes) {
      return invalid(where + ": 'command' must be hex bytes or ?? of at most " +
                     std::to_string(hal::kMaxCommandApduBytes) + " bytes");
    }
    auto response = hex_member(e, "response", hal::kMaxResponseApduBytes);
    if (!response) return with_context(response.error(), where);
    if (response->size() < 2) return invalid(where + ": 'response' needs at least SW1 SW2");
    t.exchanges.push_back({std::move(command), std::move(*response)});
  }
  return t;
}

Result<Transcript> load_transcript(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot read transcript " + path);
  std::ostringstream text;
  text << in.rdbuf();
  auto t = parse_transcript(text.str());
  if (!t) return with_context(t.error(), path);
  return t;
}

std::string transcript_json(const Transcript& t) {
  json exchanges = json::array();
  for (const auto& e : t.exchanges) {
    exchanges.push_back({{"command", e.command}, {"response", to_hex(e.response)}});
  }
  const Bytes atqa{static_cast<std::uint8_t>(t.card.atqa >> 8),
                   static_cast<std::uint8_t>(t.card.atqa)};
  json doc = {{"format", kFormat},
              {"about", t.about},
              {"card",
               {{"uid", to_hex(t.card.uid)},
                {"atqa", to_hex(atqa)},
                {"sak", to_hex(Bytes{t.card.sak})},
                {"ats", to_hex(t.card.ats)}}},
              {"exchanges", exchanges}};
  return doc.dump(2) + "\n";
}

Result<Bytes> TranscriptCard::respond(ByteView command) {
  const std::string actual = to_hex(command);
  if (next_ >= transcript_.exchanges.size()) {
    mismatches_.push_back("command " + actual + " after the transcript's end");
    return Bytes{0x6D, 0x00};
  }
  const TranscriptExchange& expected = transcript_.exchanges[next_];
  if (!matches(expected.command, actual)) {
    mismatches_.push_back("exchange " + std::to_string(next_ + 1) + ": expected " +
                          expected.command + ", got " + actual);
    return Bytes{0x6D, 0x00};
  }
  ++next_;
  return expected.response;
}

RecordingCard::RecordingCard(std::shared_ptr<hal::sim::ContactlessCard> inner, std::string about)
    : inner_(std::move(inner)) {
  transcript_.about = std::move(about);
  transcript_.card = inner_->info();
}

Result<Bytes> RecordingCard::respond(ByteView command) {
  auto response = inner_->respond(command);
  if (response) transcript_.exchanges.push_back({to_hex(command), *response});
  return response;
}

}  // namespace faregate::simulator
