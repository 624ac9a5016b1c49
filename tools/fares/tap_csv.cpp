#include "tools/fares/tap_csv.h"

#include <charconv>
#include <fstream>
#include <sstream>

#include "backoffice/fares/csv_reader.h"
#include "backoffice/fares/local_time.h"

namespace faregate::fares::cli {

namespace {

Result<CardToken> card_token(std::string_view card) {
  if (card.empty()) return make_error(ErrorCode::kInvalidArgument, "card is empty");
  if (card.size() > CardToken::kMaxSize) {
    return make_error(ErrorCode::kInvalidArgument,
                      "card '" + std::string(card) + "' is longer than " + std::to_string(CardToken::kMaxSize) + " bytes");
  }
  return CardToken::from_bytes(as_bytes(card));
}

Result<std::int32_t> parse_date_dashed(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
    return make_error(ErrorCode::kInvalidArgument, "date '" + std::string(text) + "' is not YYYY-MM-DD");
  }
  std::string compact = std::string(text.substr(0, 4)) + std::string(text.substr(5, 2)) + std::string(text.substr(8, 2));
  auto day = parse_gtfs_date(compact);
  if (!day) return make_error(ErrorCode::kInvalidArgument, "date '" + std::string(text) + "' is not YYYY-MM-DD");
  return *day;
}

}  // namespace

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, "cannot open " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return make_error(ErrorCode::kIo, "cannot read " + path);
  return buffer.str();
}

Result<TapFile> parse_tap_csv(std::string_view text, const std::string& file_name, const FarePolicy& policy) {
  auto table = CsvTable::open(text, file_name);
  if (!table) return std::unexpected(table.error());
  CsvTable& t = *table;
  int cols[6];
  static constexpr std::string_view kRequired[6] = {"card", "time", "stop_id", "role", "route_id", "rider_category"};
  for (int i = 0; i < 6; ++i) {
    cols[i] = t.column(kRequired[i]);
    if (cols[i] < 0) {
      return make_error(ErrorCode::kInvalidArgument, file_name + ":1: missing column " + std::string(kRequired[i]) +
                                                         " (header must name card,time,stop_id,role,route_id,rider_category)");
    }
  }
  const int device_col = t.column("device_id");
  const int seq_col = t.column("seq");
  const int media_col = t.column("fare_media_id");
  Interner devices;
  TapFile out;
  while (true) {
    auto more = t.next();
    if (!more) return std::unexpected(more.error());
    if (!*more) break;
    Tap tap;
    auto card = card_token(t.field(cols[0]));
    if (!card) return std::unexpected(t.error_here(card.error().message));
    tap.card = *card;
    auto time = parse_iso8601_utc_ms(t.field(cols[1]));
    if (!time) return std::unexpected(t.error_here(time.error().message));
    tap.utc_ms = *time;
    const auto stop = t.field(cols[2]);
    if (stop.empty()) return std::unexpected(t.error_here("stop_id is empty"));
    tap.stop = policy.stop_index(stop);
    const auto role = t.field(cols[3]);
    if (role == "entry") {
      tap.role = TapRole::kEntry;
    } else if (role == "exit") {
      tap.role = TapRole::kExit;
    } else if (role == "onboard") {
      tap.role = TapRole::kOnboard;
    } else {
      return std::unexpected(t.error_here("role '" + std::string(role) + "' is not entry, exit or onboard"));
    }
    tap.route = policy.route_index(t.field(cols[4]));
    if (const auto cat = t.field(cols[5]); !cat.empty()) {
      tap.rider_category = policy.rider_category_index(cat);
      if (tap.rider_category == kUnknown) {
        return std::unexpected(t.error_here("rider_category '" + std::string(cat) + "' is not in rider_categories.txt"));
      }
    }
    if (const auto media = t.field(media_col); !media.empty()) {
      tap.fare_media = policy.fare_media_index(media);
      if (tap.fare_media == kUnknown) {
        return std::unexpected(t.error_here("fare_media_id '" + std::string(media) + "' is not in fare_media.txt"));
      }
    }
    tap.device = devices.intern(t.field(device_col));
    if (const auto seq = t.field(seq_col); !seq.empty()) {
      std::uint64_t v = 0;
      auto [ptr, ec] = std::from_chars(seq.data(), seq.data() + seq.size(), v);
      if (ec != std::errc{} || ptr != seq.data() + seq.size()) {
        return std::unexpected(t.error_here("seq '" + std::string(seq) + "' is not a non-negative integer"));
      }
      tap.seq = v;
    } else {
      tap.seq = t.line();  // each line is its own tap
    }
    out.taps.push_back(tap);
    out.cards.emplace_back(t.field(cols[0]));
    out.stop_ids.emplace_back(stop);
    out.route_ids.emplace_back(t.field(cols[4]));
    out.lines.push_back(t.line());
  }
  return out;
}

Status parse_entitlements_csv(std::string_view text, const std::string& file_name, const FarePolicy& policy,
                              EntitlementRegistry& registry) {
  auto table = CsvTable::open(text, file_name);
  if (!table) return std::unexpected(table.error());
  CsvTable& t = *table;
  const int card_col = t.column("card");
  const int cat_col = t.column("rider_category");
  if (card_col < 0 || cat_col < 0) {
    return make_error(ErrorCode::kInvalidArgument, file_name + ":1: header must name card,rider_category");
  }
  const int from_col = t.column("valid_from");
  const int until_col = t.column("valid_until");
  while (true) {
    auto more = t.next();
    if (!more) return std::unexpected(more.error());
    if (!*more) break;
    auto card = card_token(t.field(card_col));
    if (!card) return std::unexpected(t.error_here(card.error().message));
    Entitlement e;
    e.rider_category_id = std::string(t.field(cat_col));
    const Index cat = policy.rider_category_index(e.rider_category_id);
    if (cat == kNone || cat == kUnknown) {
      return std::unexpected(t.error_here("rider_category '" + e.rider_category_id + "' is not in rider_categories.txt"));
    }
    if (const auto from = t.field(from_col); !from.empty()) {
      auto d = parse_date_dashed(from);
      if (!d) return std::unexpected(t.error_here("valid_from: " + d.error().message));
      e.valid_from_day = *d;
    }
    if (const auto until = t.field(until_col); !until.empty()) {
      auto d = parse_date_dashed(until);
      if (!d) return std::unexpected(t.error_here("valid_until: " + d.error().message));
      e.valid_until_day = *d;
    }
    registry.add(*card, std::move(e));
  }
  return {};
}

}  // namespace faregate::fares::cli
