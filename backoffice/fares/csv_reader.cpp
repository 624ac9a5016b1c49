#include "backoffice/fares/csv_reader.h"

#include <utility>

namespace faregate::fares {

CsvReader::CsvReader(std::string_view text, std::string file_name)
    : text_(text), file_name_(std::move(file_name)) {
  if (text_.starts_with("\xEF\xBB\xBF")) pos_ = 3;  // UTF-8 BOM, common in exported feeds
}

Result<bool> CsvReader::next(std::vector<std::string_view>& fields) {
  fields.clear();
  std::size_t scratch_used = 0;
  // Skip blank lines between records.
  while (pos_ < text_.size() && (text_[pos_] == '\n' || text_[pos_] == '\r')) {
    if (text_[pos_] == '\n') ++current_line_;
    ++pos_;
  }
  if (pos_ >= text_.size()) return false;
  record_line_ = current_line_;
  auto error = [&](std::string_view what) {
    return make_error(ErrorCode::kInvalidArgument,
                      file_name_ + ":" + std::to_string(current_line_) + ": " + std::string(what));
  };
  while (true) {
    // One field starts at pos_.
    if (pos_ < text_.size() && text_[pos_] == '"') {
      const std::uint32_t quote_line = current_line_;
      ++pos_;
      const std::size_t start = pos_;
      bool escaped = false;
      std::size_t end = std::string_view::npos;
      while (pos_ < text_.size()) {
        const char c = text_[pos_];
        if (c == '"') {
          if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '"') {
            escaped = true;
            pos_ += 2;
            continue;
          }
          end = pos_;
          ++pos_;
          break;
        }
        if (c == '\n') ++current_line_;
        ++pos_;
      }
      if (end == std::string_view::npos) {
        return make_error(ErrorCode::kInvalidArgument,
                          file_name_ + ":" + std::to_string(quote_line) + ": unterminated quoted field");
      }
      std::string_view raw = text_.substr(start, end - start);
      if (escaped) {
        if (scratch_used == scratch_.size()) scratch_.emplace_back();
        std::string& s = scratch_[scratch_used++];
        s.clear();
        for (std::size_t i = 0; i < raw.size(); ++i) {
          s.push_back(raw[i]);
          if (raw[i] == '"') ++i;  // skip the second quote of ""
        }
        fields.emplace_back(s);
      } else {
        fields.emplace_back(raw);
      }
      if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' && text_[pos_] != '\r') {
        return error("text after a closing quote");
      }
    } else {
      const std::size_t start = pos_;
      while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' && text_[pos_] != '\r') {
        if (text_[pos_] == '"') return error("quote inside an unquoted field");
        ++pos_;
      }
      fields.emplace_back(text_.substr(start, pos_ - start));
    }
    if (pos_ >= text_.size()) return true;
    const char sep = text_[pos_];
    if (sep == ',') {
      ++pos_;
      continue;
    }
    // End of record: CRLF, LF or a lone CR.
    if (sep == '\r') ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
    ++current_line_;
    return true;
  }
}

Result<CsvTable> CsvTable::open(std::string_view text, std::string file_name) {
  CsvTable table{CsvReader(text, std::move(file_name))};
  std::vector<std::string_view> header;
  auto got = table.reader_.next(header);
  if (!got) return std::unexpected(got.error());
  if (!*got) return make_error(ErrorCode::kInvalidArgument, table.file_name() + ":1: missing header line");
  for (auto name : header) {
    // Field names are case-sensitive in GTFS; surrounding spaces are a common export artefact.
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    table.header_.emplace_back(name);
  }
  return table;
}

int CsvTable::column(std::string_view name) const {
  for (std::size_t i = 0; i < header_.size(); ++i)
    if (header_[i] == name) return static_cast<int>(i);
  return -1;
}

Result<bool> CsvTable::next() {
  auto got = reader_.next(fields_);
  if (!got || !*got) return got;
  if (fields_.size() > header_.size()) {
    return std::unexpected(error_here("record has " + std::to_string(fields_.size()) +
                                      " fields but the header has " + std::to_string(header_.size())));
  }
  return true;
}

Error CsvTable::error_here(std::string_view message) const {
  return Error{ErrorCode::kInvalidArgument,
               file_name() + ":" + std::to_string(line()) + ": " + std::string(message)};
}

}  // namespace faregate::fares
